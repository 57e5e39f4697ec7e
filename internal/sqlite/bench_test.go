package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// BenchmarkAheadStatus is the store's part of a status report: run ahead,
// read an operation (1.5 kB) and its resource (0.8 kB), replace both and
// create an audit record, from 8 goroutines over 1,000 operations. It
// reports the process's CPU per report beside the time.
func BenchmarkAheadStatus(b *testing.B) {
	ctx := context.Background()
	s, q := openBenchQueue(b)
	const ops = 1000
	pad := strings.Repeat("x", 1300)
	for i := range ops {
		op := tre.Document{ID: fmt.Sprint("op", i), Data: []byte(fmt.Sprintf(`{"id":"op%d","resourceId":"r%d","status":"s0","pad":%q}`, i, i, pad))}
		res := tre.Document{ID: fmt.Sprint("r", i), Data: []byte(fmt.Sprintf(`{"id":"r%d","resourceId":"r%d","resourceType":"workspace","deploymentStatus":"s0","pad":%q}`, i, i, pad[:600]))}
		for _, d := range []struct {
			c   tre.Collection
			doc tre.Document
		}{{tre.Operations, op}, {tre.Resources, res}} {
			if _, err := s.Create(ctx, d.c, d.doc); err != nil {
				b.Fatal(err)
			}
		}
	}
	var next atomic.Int64
	statuses := []string{"deploying", "deployed", "updating", "updated", "action_succeeded"}
	report := func(ctx context.Context, st tre.Store, _ tre.Sender) error {
		i := next.Add(1) % ops
		for _, k := range []struct {
			c  tre.Collection
			id string
		}{{tre.Operations, fmt.Sprint("op", i)}, {tre.Resources, fmt.Sprint("r", i)}} {
			doc, err := st.Get(ctx, k.c, k.id)
			if err != nil {
				return err
			}
			var v map[string]any
			if err := json.Unmarshal(doc.Data, &v); err != nil {
				return err
			}
			// A status of another length and a counter: a few bytes more
			// or less, as a status report makes.
			n, _ := v["n"].(float64)
			v["n"], v["status"] = n+1, statuses[int(n)%len(statuses)]
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if _, err := st.Replace(ctx, k.c, tre.Document{ID: doc.ID, ETag: doc.ETag, Data: data}); err != nil {
				return err
			}
		}
		id := uuid.NewString()
		_, err := st.Create(ctx, tre.AuditRecords, tre.Document{ID: id, Data: []byte(fmt.Sprintf(`{"id":%q,"resourceId":"r%d","action":"x"}`, id, i))})
		return err
	}
	cpu0 := cpuNow()
	b.SetParallelism(4) // 8 goroutines on two cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := q.AtomicallyAhead(ctx, report); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-cpu0)/float64(b.N), "cpu-ns/op")
	st := q.AheadStats()
	b.ReportMetric(float64(st.Reran+st.Unplanned)/float64(b.N), "reruns/op")
}

func openBenchQueue(b *testing.B) (*Store, *Queue) {
	db, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	q := NewQueue(db, QueueOptions{})
	b.Cleanup(func() {
		q.Close()
		db.Close()
	})
	return NewStore(db), q
}

// cpuNow is the process's user and system CPU time so far.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
