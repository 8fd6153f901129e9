import { bytes } from './format.ts';

/** A one-line byte counter with rate on a terminal; silent when stderr is not one. */
export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const started = Date.now();
  let last = 0;
  let shown = false;
  const draw = (n: number) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? n / seconds : 0;
    stream.write(`\r${label} ${bytes(n)}  ${bytes(Math.round(rate))}/s   `);
    shown = true;
  };
  return {
    update(n: number) {
      if (!stream.isTTY) return;
      const t = Date.now();
      if (t - last < 200) return;
      last = t;
      draw(n);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
