package wire

// EnvelopeSchema is the Avro schema of the envelope that follows the magic
// and protocol-version bytes of every record value. The hand-written codec in
// this package writes exactly this schema's binary encoding.
const EnvelopeSchema = `{
  "type": "record", "name": "Envelope", "namespace": "io.rialto.wire",
  "fields": [
    {"name": "messageType", "type": "int"},
    {"name": "producer", "type": {"type": "record", "name": "ProducerMetadata", "fields": [
      {"name": "guid", "type": {"type": "fixed", "name": "GUID", "size": 16}},
      {"name": "segment", "type": "int"},
      {"name": "sequence", "type": "int"},
      {"name": "producerTimestamp", "type": "long"},
      {"name": "logicalTimestamp", "type": ["null", "long"]}
    ]}},
    {"name": "payload", "type": [
      {"type": "record", "name": "Put", "fields": [
        {"name": "schemaId", "type": "int"},
        {"name": "value", "type": "bytes"},
        {"name": "rmd", "type": ["null", {"type": "record", "name": "ReplicationMetadata", "fields": [
          {"name": "version", "type": "int"},
          {"name": "data", "type": "bytes"}
        ]}]},
        {"name": "chunks", "type": ["null", {"type": "record", "name": "ChunkManifest", "fields": [
          {"name": "chunkKeys", "type": {"type": "array", "items": "bytes"}},
          {"name": "size", "type": "long"}
        ]}]}
      ]},
      {"type": "record", "name": "Delete", "fields": [
        {"name": "schemaId", "type": "int"},
        {"name": "rmd", "type": ["null", "ReplicationMetadata"]}
      ]},
      {"type": "record", "name": "Update", "fields": [
        {"name": "schemaId", "type": "int"},
        {"name": "updateSchemaId", "type": "int"},
        {"name": "update", "type": "bytes"}
      ]},
      {"type": "record", "name": "Control", "fields": [
        {"name": "controlType", "type": "int"},
        {"name": "body", "type": [
          {"type": "record", "name": "StartOfPush", "fields": [
            {"name": "sorted", "type": "boolean"},
            {"name": "chunked", "type": "boolean"},
            {"name": "compression", "type": "int"},
            {"name": "dictionary", "type": ["null", "bytes"]}
          ]},
          {"type": "record", "name": "EndOfPush", "fields": []},
          {"type": "record", "name": "StartOfSegment", "fields": [
            {"name": "checksumType", "type": "int"}
          ]},
          {"type": "record", "name": "EndOfSegment", "fields": [
            {"name": "checksumType", "type": "int"},
            {"name": "checksumValue", "type": "bytes"},
            {"name": "final", "type": "boolean"}
          ]},
          {"type": "record", "name": "StartOfIncrementalPush", "fields": [
            {"name": "pushId", "type": "string"}
          ]},
          {"type": "record", "name": "EndOfIncrementalPush", "fields": [
            {"name": "pushId", "type": "string"}
          ]},
          {"type": "record", "name": "TopicSwitch", "fields": [
            {"name": "sources", "type": {"type": "array", "items": {"type": "record", "name": "SourceRegion", "fields": [
              {"name": "region", "type": "int"},
              {"name": "name", "type": "string"},
              {"name": "brokers", "type": {"type": "array", "items": "string"}}
            ]}}},
            {"name": "topic", "type": "string"},
            {"name": "rewindStart", "type": "long"}
          ]},
          {"type": "record", "name": "VersionSwap", "fields": [
            {"name": "oldVersion", "type": "int"},
            {"name": "newVersion", "type": "int"}
          ]}
        ]}
      ]},
      {"type": "record", "name": "Chunk", "fields": [
        {"name": "index", "type": "int"},
        {"name": "data", "type": "bytes"}
      ]}
    ]},
    {"name": "leader", "type": ["null", {"type": "record", "name": "LeaderFooter", "fields": [
      {"name": "upstreamRegion", "type": "int"},
      {"name": "upstreamPartition", "type": "int"},
      {"name": "upstreamOffset", "type": "long"},
      {"name": "leaderTerm", "type": "long"}
    ]}]}
  ]
}`
