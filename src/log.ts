import { pino, type Logger } from 'pino';

/** Logs go to stderr so that stdout stays clean for results and `--json`. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined }, pino.destination(2));
}

export const log = createLogger();
