package wire

import "encoding/binary"

// AppendValue appends the record value of e (magic, version, envelope) to dst.
func AppendValue(dst []byte, e *Envelope) []byte {
	dst = append(dst, Magic, ProtocolVersion)
	dst = appendInt(dst, int64(e.Type))
	p := &e.Producer
	dst = append(dst, p.GUID[:]...)
	dst = appendInt(dst, int64(p.Segment))
	dst = appendInt(dst, int64(p.Sequence))
	dst = appendInt(dst, p.ProducerTimestamp)
	if p.HasLogicalTimestamp {
		dst = appendInt(dst, 1)
		dst = appendInt(dst, p.LogicalTimestamp)
	} else {
		dst = appendInt(dst, 0)
	}
	dst = appendInt(dst, int64(e.Type)) // payload union branch
	switch e.Type {
	case TypePut:
		dst = appendInt(dst, int64(e.Put.SchemaID))
		dst = appendBytes(dst, e.Put.Value)
		dst = appendRMD(dst, e.Put.RMD)
		if m := e.Put.Chunks; m != nil {
			dst = appendInt(dst, 1)
			if len(m.ChunkKeys) > 0 {
				dst = appendInt(dst, int64(len(m.ChunkKeys)))
				for _, k := range m.ChunkKeys {
					dst = appendBytes(dst, k)
				}
			}
			dst = appendInt(dst, 0)
			dst = appendInt(dst, m.Size)
		} else {
			dst = appendInt(dst, 0)
		}
	case TypeDelete:
		dst = appendInt(dst, int64(e.Delete.SchemaID))
		dst = appendRMD(dst, e.Delete.RMD)
	case TypeUpdate:
		dst = appendInt(dst, int64(e.Update.SchemaID))
		dst = appendInt(dst, int64(e.Update.UpdateSchemaID))
		dst = appendBytes(dst, e.Update.Update)
	case TypeControl:
		dst = appendControl(dst, &e.Control)
	case TypeChunk:
		dst = appendInt(dst, int64(e.Chunk.Index))
		dst = appendBytes(dst, e.Chunk.Data)
	}
	if l := e.Leader; l != nil {
		dst = appendInt(dst, 1)
		dst = appendInt(dst, int64(l.UpstreamRegion))
		dst = appendInt(dst, int64(l.UpstreamPartition))
		dst = appendInt(dst, l.UpstreamOffset)
		dst = appendInt(dst, l.LeaderTerm)
	} else {
		dst = appendInt(dst, 0)
	}
	return dst
}

func appendControl(dst []byte, c *Control) []byte {
	dst = appendInt(dst, int64(c.Type))
	dst = appendInt(dst, int64(c.Type)) // body union branch
	switch c.Type {
	case ControlStartOfPush:
		s := &c.StartOfPush
		dst = appendBool(dst, s.Sorted)
		dst = appendBool(dst, s.Chunked)
		dst = appendInt(dst, int64(s.Compression))
		if s.Dictionary != nil {
			dst = appendInt(dst, 1)
			dst = appendBytes(dst, s.Dictionary)
		} else {
			dst = appendInt(dst, 0)
		}
	case ControlEndOfPush:
	case ControlStartOfSegment:
		dst = appendInt(dst, int64(c.StartOfSegment.ChecksumType))
	case ControlEndOfSegment:
		s := &c.EndOfSegment
		dst = appendInt(dst, int64(s.ChecksumType))
		dst = appendBytes(dst, s.ChecksumValue)
		dst = appendBool(dst, s.Final)
	case ControlStartOfIncrementalPush, ControlEndOfIncrementalPush:
		dst = appendString(dst, c.IncrementalPush.PushID)
	case ControlTopicSwitch:
		t := &c.TopicSwitch
		if len(t.Sources) > 0 {
			dst = appendInt(dst, int64(len(t.Sources)))
			for _, s := range t.Sources {
				dst = appendInt(dst, int64(s.Region))
				dst = appendString(dst, s.Name)
				if len(s.Brokers) > 0 {
					dst = appendInt(dst, int64(len(s.Brokers)))
					for _, b := range s.Brokers {
						dst = appendString(dst, b)
					}
				}
				dst = appendInt(dst, 0)
			}
		}
		dst = appendInt(dst, 0)
		dst = appendString(dst, t.Topic)
		dst = appendInt(dst, t.RewindStart)
	case ControlVersionSwap:
		dst = appendInt(dst, int64(c.VersionSwap.OldVersion))
		dst = appendInt(dst, int64(c.VersionSwap.NewVersion))
	}
	return dst
}

func appendRMD(dst []byte, r *RMD) []byte {
	if r == nil {
		return appendInt(dst, 0)
	}
	dst = appendInt(dst, 1)
	dst = appendInt(dst, int64(r.Version))
	return appendBytes(dst, r.Data)
}

// appendInt appends an Avro int or long: zig-zag, then base-128 varint.
func appendInt(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendBytes(dst, b []byte) []byte {
	return append(appendInt(dst, int64(len(b))), b...)
}

func appendString(dst []byte, s string) []byte {
	return append(appendInt(dst, int64(len(s))), s...)
}
