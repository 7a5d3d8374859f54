import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequest, createResponse, type RemotingCommand } from '../../remoting/command.js';
import { ResponseCode } from '../../remoting/codes.js';
import { eventually, SOCKET_TEST, startClient, startServer } from './helpers.js';

const PARK = 3000;

test('a server stops reading a peer above the in-process high-water mark and resumes at the low-water mark', SOCKET_TEST, async (t) => {
  const gates: Array<() => void> = [];
  const server = await startServer(
    t,
    (s) =>
      s.registerProcessor(PARK, (request) =>
        new Promise<RemotingCommand>((resolve) => gates.push(() => resolve(createResponse(request, ResponseCode.SUCCESS)))),
      ),
    { limits: { inboundRequestsHighWater: 4, inboundRequestsLowWater: 2 } },
  );
  const client = startClient(t);
  const invoke = (): Promise<RemotingCommand> => client.invoke(server.address, createRequest(PARK), 5000);
  const pending = [invoke(), invoke(), invoke(), invoke()];
  await eventually(() => gates.length === 4, 2000, 'four parked requests');

  pending.push(invoke());
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(gates.length, 4, 'the fifth request is not read while four are in process');

  gates[0]?.();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(gates.length, 4, 'three in process is still above the low-water mark');

  gates[1]?.();
  await eventually(() => gates.length === 5, 2000, 'the fifth request after resuming');
  for (const release of gates.slice(2)) release();
  assert.deepEqual((await Promise.all(pending)).map((r) => r.code), [0, 0, 0, 0, 0]);
});
