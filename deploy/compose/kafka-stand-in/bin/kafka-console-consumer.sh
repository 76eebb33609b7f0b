#!/usr/bin/env bash
# Stand-in for Kafka's kafka-console-consumer.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
