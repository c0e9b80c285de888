package kafkabus

import "testing"

// Topics are created as configured; unset settings are those of a single broker.
func TestTopicConfig(t *testing.T) {
	tc := topicConfig(&Config{}, "t")
	if tc.NumPartitions != 1 || tc.ReplicationFactor != 1 || len(tc.ConfigEntries) != 0 {
		t.Fatalf("unset: %+v", tc)
	}
	tc = topicConfig(&Config{Partitions: 12, ReplicationFactor: 3, MinInsyncReplicas: 2}, "t")
	if tc.NumPartitions != 12 || tc.ReplicationFactor != 3 || len(tc.ConfigEntries) != 1 ||
		tc.ConfigEntries[0].ConfigName != "min.insync.replicas" || tc.ConfigEntries[0].ConfigValue != "2" {
		t.Fatalf("cluster: %+v", tc)
	}
}
