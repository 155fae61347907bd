/**
 * Sizes libuv's thread pool before anything uses it; cli/main.ts imports this module first.
 *
 * Every blocking call of the Kafka client (librdkafka through its Node binding) runs on that pool:
 * each poll, and each transactional step — InitProducerId, AddOffsetsToTxn, EndTxn — which waits up to
 * the request timeout (30 s) while a broker is away. libuv's default is four threads, so four tasks of
 * a processor committing during a broker restart left no thread for the consumer's poll: it stopped
 * polling, the group expelled it, and the rebalance's own steps queued behind the same four calls
 * (test/processors/runtime/broker-chaos.test.ts stalled that way). A pool larger than the blocking
 * calls a process can have at once — one per partition task, plus the consumer, restores and admin —
 * keeps the poll going. Idle threads cost no CPU and a few pages each.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the pool first starts, which is after this module runs (the
 * module loader reads files synchronously). A value the user set is kept.
 */
export const DEFAULT_THREADPOOL_SIZE = 64;

process.env.UV_THREADPOOL_SIZE ??= String(DEFAULT_THREADPOOL_SIZE);
