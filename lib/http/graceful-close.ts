/**
 * Graceful close, as a fastify plugin: on `app.close()` the listener stops at once, idle keep-alive
 * connections are closed at once (fastify's `forceCloseConnections: 'idle'`, set by server.ts), requests
 * in flight may finish — and whatever is still open after `graceMs` is cut, so a scraper or a client that
 * never lets go cannot hold a component's shutdown (the supervisor and Kubernetes only wait so long).
 */
import type { FastifyPluginCallback } from 'fastify';

export const gracefulClose: FastifyPluginCallback<{ graceMs: number }> = (app, options, done) => {
  app.addHook('preClose', (hookDone) => {
    const timer = setTimeout(() => app.server.closeAllConnections(), options.graceMs);
    timer.unref();
    app.server.once('close', () => clearTimeout(timer));
    hookDone();
  });
  done();
};
// Registered without encapsulation: the hook belongs to the whole instance.
(gracefulClose as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
