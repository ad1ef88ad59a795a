import { pino, type Logger } from 'pino';

/** Logs go to stderr so that stdout stays clean for results and `--json`. */
export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: undefined }, pino.destination(2));
}

/**
 * The process's default logger (library functions use it when given none). Its level is the
 * validated config's `logLevel` (LOG_LEVEL), set by `useLogLevel` where the config is loaded
 * (src/commands/common.ts), not read from the environment at import.
 */
export const log = createLogger('info');

export function useLogLevel(level: string): void {
  log.level = level;
}
