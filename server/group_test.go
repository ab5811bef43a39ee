package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/writer"
)

// placedServer starts a server that joins the placement group.
func placedServer(t *testing.T, env *kafkatest.Env, id, group, topic string) (*Server, func()) {
	t.Helper()
	s, err := New(Config{Brokers: env.Brokers(), DataDir: t.TempDir(), Logger: quietLogger(), ServerID: id, Group: group,
		PlacementTopic: topic, ReplicationFactor: 1, SessionTimeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			s.Close()
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func TestPlacementFailover(t *testing.T) {
	for _, rf := range []int{1, 2} {
		t.Run(fmt.Sprintf("rf=%d", rf), func(t *testing.T) {
			env := kafkatest.New(t)
			const partitions, keys = 6, 600
			vt := env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
			placementTopic := env.Topic(t, 1, nil)
			group := "rialto-servers-" + placementTopic
			schemas, _ := writer.NewStaticSchemas(`"string"`, testValueSchema)
			ctx := context.Background()
			w, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas))
			if err != nil {
				t.Fatal(err)
			}
			w.StartOfPush(ctx, false)
			for i := 0; i < keys; i++ {
				w.PutBytesAsync(ctx, []byte(fmt.Sprint("k", i)), 1, avroBytesValue([]byte(fmt.Sprint("v", i))), func(_ writer.Result, err error) {
					if err != nil {
						t.Error(err)
					}
				})
			}
			w.EndOfPush(ctx)
			w.Close(ctx)

			spec := VersionSpec{Store: "s", Version: 1, Topic: vt, Partitions: partitions}
			var servers []*Server
			var stops []func()
			for i := 0; i < 3; i++ {
				s, stop := placedServer(t, env, fmt.Sprintf("server-%d", i), group, placementTopic)
				if err := s.SetCatalog(1, CatalogEntry{Spec: spec, Replication: rf}); err != nil {
					t.Fatal(err)
				}
				servers, stops = append(servers, s), append(stops, stop)
			}
			// readAll asks, for every key, the servers the plan names.
			readAll := func(live []*Server) error {
				for i := 0; i < keys; i++ {
					key := []byte(fmt.Sprint("k", i))
					var found bool
					for _, s := range live {
						v, ok, err := s.Get("s", 1, key)
						if err == nil && ok && string(v.Bytes) == string(avroBytesValue([]byte(fmt.Sprint("v", i)))) {
							found = true
							break
						}
					}
					if !found {
						return fmt.Errorf("key k%d unreadable", i)
					}
				}
				return nil
			}
			placed := func(live []*Server, members int) bool {
				hosted := 0
				for _, s := range live {
					p, ok := s.Plan()
					if !ok || len(p.Members) != members {
						return false
					}
					for _, st := range s.Status() {
						if !st.ReadyToServe {
							return false
						}
						hosted++
					}
				}
				return hosted == partitions*min(rf, members)
			}
			waitFor(t, time.Minute, "every partition placed and ready", func() bool { return placed(servers, 3) })
			if err := readAll(servers); err != nil {
				t.Fatal(err)
			}
			// Stop one server: its partitions move to the others, which
			// rebuild them from the version topic.
			stops[0]()
			live := servers[1:]
			waitFor(t, time.Minute, "partitions moved to the two survivors", func() bool { return placed(live, 2) })
			if err := readAll(live); err != nil {
				t.Fatal(err)
			}
		})
	}
}
