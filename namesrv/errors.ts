// Operating errors of the name server: a request we refuse, with the response code and remark to answer.
import { ResponseCode } from '../remoting/index.js';

/** Bad input or a full table. Processors answer it with `responseCode` and the message as remark. */
export class NamesrvRequestError extends Error {
  readonly responseCode: number;

  constructor(message: string, responseCode: number = ResponseCode.SYSTEM_ERROR) {
    super(message);
    this.name = new.target.name;
    this.responseCode = responseCode;
  }
}
