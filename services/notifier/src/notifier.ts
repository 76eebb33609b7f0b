import { GroupCommitter } from "@taskflow/db";
import type { Delivery, EventBus, EventEnvelope, Subscription } from "@taskflow/messaging";
import { isEventEnvelope } from "@taskflow/messaging";
import type { NotificationRepository } from "@taskflow/notifications";
import {
  endSpan,
  failpoint,
  type Logger,
  type Metrics,
  startMessagingSpan,
  type Tracer,
  traceparentFrom,
  traceparentOf,
} from "@taskflow/observability";
import { isOrderCreated, ORDER_CREATED, type OrderCreated } from "@taskflow/orders";

/** The notifier's own queue on the event bus. */
export const NOTIFIER_QUEUE = "notifier";

export interface NotifierOptions {
  bus: EventBus;
  notifications: NotificationRepository;
  logger: Logger;
  metrics: Metrics;
  /** Deliveries held at once. */
  prefetch?: number;
  /** Its queue's name (tests give each run its own). */
  queue?: string;
  /** Tracing on: a CONSUMER span per delivery, child of the message's trace context. */
  tracer?: Tracer | undefined;
}

/** Pause before handing back a delivery whose commit failed, so an outage is not a hot loop. */
const REQUEUE_AFTER_ERROR_MS = 1_000;

/**
 * The notifier: its own durable queue on the event bus, bound to `order.created`. For each
 * order: a notification for its owner, a live `notification.created`, and an order
 * confirmation email job — once per event id — and only then the ack. The events that arrive
 * while a batch is being written are written together by the next one (one transaction).
 */
export function createNotifier(options: NotifierOptions) {
  const { bus, notifications, logger, metrics } = options;
  const queueName = options.queue ?? NOTIFIER_QUEUE;
  const stats = { inFlight: 0, processed: 0, failed: 0 };
  const running = new Set<Promise<void>>();
  let subscription: Subscription | undefined;

  /** Per event id, the trace context its email job carries (set while it is being written). */
  const traceparents = new Map<string, string>();
  // A batch that fails is written again event by event, so that one bad event fails alone.
  const records = new GroupCommitter<EventEnvelope<OrderCreated>, boolean | Error>(
    async (events) => {
      try {
        return await notifications.recordOrdersCreated(events, traceparents);
      } catch (batchError) {
        if (events.length === 1) return [asError(batchError)];
        return Promise.all(
          events.map((event) =>
            notifications.recordOrdersCreated([event], traceparents).then(
              ([made]) => made ?? false,
              (error: unknown) => asError(error),
            ),
          ),
        );
      }
    },
    { onFlush: (size) => metrics.batchSize.observe({ batch: "notifications" }, size) },
  );

  async function handle(delivery: Delivery) {
    const event = delivery.message.body;
    if (!isEventEnvelope(event) || event.type !== ORDER_CREATED || !isOrderCreated(event.data)) {
      logger.warn({ messageId: delivery.message.id }, "not an order.created event: dead-lettered");
      delivery.deadLetter("not an order.created event");
      stats.failed++;
      metrics.consumed.inc({ queue: queueName, outcome: "dead" });
      return;
    }
    const parent = traceparentFrom(delivery.message.headers);
    const span = options.tracer
      ? startMessagingSpan(
          options.tracer,
          {
            system: bus.engine === "embedded" ? "taskflow.embedded" : bus.engine,
            destination: queueName,
            operation: "process",
            messageId: delivery.message.id,
          },
          { parent, attributes: { "taskflow.order.id": event.data.order_id } },
        )
      : undefined;
    const traceparent = span ? traceparentOf(span) : parent;
    if (traceparent) traceparents.set(event.id, traceparent);
    try {
      const made = await records.submit({ ...event, data: event.data });
      traceparents.delete(event.id);
      if (made instanceof Error) throw made;
      span?.end();
      failpoint("notifier.after-commit");
      delivery.ack();
      stats.processed++;
      metrics.consumed.inc({ queue: queueName, outcome: made ? "ack" : "skip" });
    } catch (error) {
      traceparents.delete(event.id);
      if (span?.isRecording()) endSpan(span, error);
      logger.error({ err: error, eventId: event.id }, "could not record the notification");
      await new Promise((resolve) => setTimeout(resolve, REQUEUE_AFTER_ERROR_MS));
      delivery.requeue();
      metrics.consumed.inc({ queue: queueName, outcome: "requeue" });
    }
  }

  return {
    stats,
    async start() {
      const queue = await bus.subscribe(queueName, [ORDER_CREATED]);
      subscription = await queue.consume(
        (delivery) => {
          stats.inFlight++;
          const work = handle(delivery).finally(() => {
            stats.inFlight--;
            running.delete(work);
          });
          running.add(work);
        },
        { prefetch: options.prefetch ?? 50 },
      );
      logger.info({ queue: queueName, engine: bus.engine }, "notifier consuming");
    },
    /** Stops taking events; what is in flight is committed and acknowledged first (bounded). */
    async stop(timeoutMs: number) {
      await subscription?.stop();
      await Promise.race([
        Promise.all([...running]),
        new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));
