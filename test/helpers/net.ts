// A free loopback port, for the servers and services tests, the chaos suite and the benches start themselves.
import { createServer } from 'node:net';

/** A port nothing listens on now (the OS picks it); the caller binds it next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
