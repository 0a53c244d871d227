/**
 * Poisson tails for the spike test. Computed in log space so that neither a rare hour (expected
 * 0.2) nor a busy network (expected thousands) under- or overflows.
 */
const LOG_FACTORIAL: number[] = [0];
for (let n = 1; n < 256; n++) LOG_FACTORIAL.push(LOG_FACTORIAL[n - 1]! + Math.log(n));

function logFactorial(n: number): number {
  if (n < 256) return LOG_FACTORIAL[n]!;
  // Stirling series; its error at n >= 256 is far below double precision of the result.
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n * n * n);
}

const logPmf = (k: number, mu: number): number => -mu + k * Math.log(mu) - logFactorial(k);

/** P(X >= k) for X ~ Poisson(mu). */
export function poissonUpperTail(k: number, mu: number): number {
  if (k <= 0) return 1;
  if (mu <= 0) return 0;
  if (k > mu) {
    // Terms fall from k upwards: sum until they stop mattering.
    let term = Math.exp(logPmf(k, mu));
    let sum = 0;
    for (let j = k; term > 0 && term > sum * 1e-16; j++) {
      sum += term;
      term *= mu / (j + 1);
    }
    return Math.min(1, sum);
  }
  // Below the mean the complement (terms falling from k-1 downwards) is the short sum.
  let term = Math.exp(logPmf(k - 1, mu));
  let sum = 0;
  for (let j = k - 1; j >= 0 && term > sum * 1e-16; j--) {
    sum += term;
    term *= j / mu;
  }
  return Math.max(0, 1 - sum);
}

/** The smallest count whose upper tail is at most alpha: the count from which an hour is a spike. */
export function poissonCriticalCount(mu: number, alpha: number): number {
  let k = Math.max(1, Math.ceil(mu));
  let tail = poissonUpperTail(k, mu);
  while (tail > alpha) {
    tail -= Math.exp(logPmf(k, mu));
    k++;
  }
  return k;
}
