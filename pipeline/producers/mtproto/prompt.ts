import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';

/** The questions `tidewatch collect login` asks on the terminal. */
export interface Prompter {
  ask(question: string): Promise<string>;
  /** The answer is not echoed: what is typed never appears on the screen (2FA password). */
  askSecret(question: string): Promise<string>;
  close(): void;
}

export interface PrompterStreams {
  input: NodeJS.ReadableStream;
  /** Where questions and the echo of typed answers go (stderr: stdout is for results). */
  output: NodeJS.WritableStream;
  /** Line editing and echo by readline, as on a TTY; default: whether `input` is a TTY. */
  terminal?: boolean;
}

/**
 * Prompts on a terminal. On a TTY readline puts the input in raw mode and echoes what is typed
 * itself, through its output; a secret is asked with that output muted, so the password is not
 * echoed (nor the line redrawn on a key press). A piped input is not echoed by anyone anyway.
 */
export function terminalPrompter({ input, output, terminal }: PrompterStreams): Prompter {
  let muted = false;
  const echo = new Writable({
    // Strings arrive as Buffers (decodeStrings), so the chunk is written as it is.
    write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void) {
      if (!muted) output.write(chunk);
      done();
    },
  });
  // No history: a secret typed here must not be one arrow key away afterwards.
  const rl = createInterface({ input, output: echo, terminal: terminal ?? Boolean((input as { isTTY?: boolean }).isTTY), historySize: 0 });
  return {
    ask: (question) => rl.question(question),
    async askSecret(question) {
      output.write(question);
      muted = true;
      try {
        return await rl.question('');
      } finally {
        muted = false;
        // The Enter was muted with the rest.
        output.write('\n');
      }
    },
    close: () => rl.close(),
  };
}
