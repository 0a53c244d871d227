import { writeSyntheticExport } from '../telegram-export/synthetic.ts';
console.log(await writeSyntheticExport(process.argv[2]!, Number(process.argv[3])));
