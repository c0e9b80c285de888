package kafkabus

import (
	"errors"

	"github.com/segmentio/kafka-go"
)

// Refused reports whether Kafka refused the messages of a failed produce for good: too
// large, invalid or with a timestamp out of bounds. Sending them again fails the same way,
// so they must be set aside. Every other failure (broker unreachable, no leader, timeout,
// unknown topic, missing permission) depends on the cluster and may heal: retry.
func Refused(err error) bool {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case kafka.InvalidMessageSize, kafka.MessageSizeTooLarge, kafka.RecordListTooLarge,
		kafka.InvalidTimestamp, kafka.InvalidRecord, kafka.UnsupportedCompressionType:
		return true
	}
	return false
}
