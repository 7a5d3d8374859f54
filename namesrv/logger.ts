// The name server's logging seam. It is a superset of remoting's Logger, so one object serves both.

export interface NamesrvLogger {
  info(message: string): void;
  warn(message: string): void;
  debug?(message: string): void;
}

export const consoleNamesrvLogger: NamesrvLogger = {
  info: (message) => console.info(message),
  warn: (message) => console.warn(message),
};
