/** The slice of a pino logger this lib uses; pass the service's logger (or a child of it). */
export interface ModelsLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}
