package console

import (
	"context"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// settle is the least time between two change notices of one stream: a burst of status
// writes (a fleet converging) becomes one page refresh, not one per write.
const settle = 500 * time.Millisecond

// watchApp streams a notice each time the application changes.
func (s *Server) watchApp(w http.ResponseWriter, r *http.Request) {
	key := s.appKey(r)
	sel := fields.OneTermEqualSelector("metadata.name", key.Name)
	s.stream(w, r, []watchScope{{namespace: key.Namespace, fields: sel}})
}

// watchApps streams a notice each time any application the identity may list changes.
func (s *Server) watchApps(w http.ResponseWriter, r *http.Request) {
	namespaces, err := s.scope(r.Context(), r.URL.Query().Get("namespace"))
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	scopes := []watchScope{{}}
	if namespaces != nil {
		scopes = nil
		for _, ns := range namespaces {
			scopes = append(scopes, watchScope{namespace: ns})
		}
	}
	s.stream(w, r, scopes)
}

type watchScope struct {
	namespace string
	fields    fields.Selector
}

// stream relays API server watches as server-sent events: `event: change` after changes
// (at most one per settle interval), and a comment every 20s that keeps proxies from closing
// an idle stream. A watch the API server ends is opened again.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, scopes []watchScope) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	changes := make(chan struct{}, 1)
	for _, sc := range scopes {
		go s.relay(ctx, sc, changes)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	keepAlive := time.NewTicker(20 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-changes:
			fmt.Fprint(w, "event: change\ndata: {}\n\n")
			flusher.Flush()
			select {
			case <-ctx.Done():
				return
			case <-time.After(settle):
			}
			continue
		}
		flusher.Flush()
	}
}

// relay watches one scope until ctx ends and signals changes (without blocking: one
// pending signal stands for any number of changes). The watch starts at the resourceVersion
// of a list, so what the page already shows is not news; when the API server ends a watch
// it resumes from the last version seen, and after an expired version it lists again and
// signals, since a change may have been missed.
func (s *Server) relay(ctx context.Context, sc watchScope, changes chan<- struct{}) {
	signal := func() {
		select {
		case changes <- struct{}{}:
		default:
		}
	}
	opts := []client.ListOption{}
	if sc.namespace != "" {
		opts = append(opts, client.InNamespace(sc.namespace))
	}
	if sc.fields != nil {
		opts = append(opts, client.MatchingFieldsSelector{Selector: sc.fields})
	}
	rv, relisted := "", false
	for ctx.Err() == nil {
		if rv == "" {
			var list v1beta1.ApplicationList
			if err := s.cl(ctx).List(ctx, &list, append(opts, client.Limit(1))...); err != nil {
				pause(ctx, 2*time.Second)
				continue
			}
			rv = list.ResourceVersion
			if relisted {
				signal()
			}
			relisted = true
		}
		wi, err := s.cl(ctx).Watch(ctx, &v1beta1.ApplicationList{}, append(opts, &client.ListOptions{
			Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})...)
		if err != nil {
			rv = ""
			pause(ctx, 2*time.Second)
			continue
		}
		for ev := range wi.ResultChan() {
			if ev.Type == watch.Error {
				rv = ""
				break
			}
			if o, ok := ev.Object.(client.Object); ok && o.GetResourceVersion() != "" {
				rv = o.GetResourceVersion()
			}
			if ev.Type != watch.Bookmark {
				signal()
			}
		}
		wi.Stop()
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
