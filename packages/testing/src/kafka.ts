/**
 * The local Kafka broker of `npm run kafka:start` (deploy/kafka), for tests that start one of
 * their own, or stop, SIGKILL and restart it on its log directory.
 */
export {
  type LocalKafka,
  type LocalKafkaOptions,
  localKafkaUp,
  metadataBrokers,
  startLocalKafka,
  stopLocalKafka,
} from "../../../deploy/kafka/local-broker.ts";
