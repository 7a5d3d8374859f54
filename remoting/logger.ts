// The logging seam of the remoting layer: inject any object with these methods (tests pass a recorder).

export interface Logger {
  warn(message: string): void;
  debug?(message: string): void;
}

export const consoleLogger: Logger = {
  warn: (message) => console.warn(message),
};
