/** The logging the core needs; Powertools' Logger satisfies it, and so does `silentLogger`. */
export interface Logger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Writes `level message {json}` lines to stderr (the CLI's --verbose). */
export function stderrLogger(minLevel: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = ['debug', 'info', 'warn', 'error'] as const;
  const at =
    (level: (typeof order)[number]) =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      if (order.indexOf(level) < order.indexOf(minLevel)) return;
      const detail = extra.length ? ` ${JSON.stringify(Object.assign({}, ...extra))}` : '';
      process.stderr.write(`${level} ${message}${detail}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
