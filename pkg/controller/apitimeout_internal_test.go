package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestRequestsToAHungAPIServerTimeOut: an API server that accepts a request and never answers
// fails a get after the timeout, while a watch, which answers only after longer than that,
// still gets its events.
func TestRequestsToAHungAPIServerTimeOut(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWatch(r) {
			time.Sleep(600 * time.Millisecond)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"late","resourceVersion":"2"}}}`+"\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		<-r.Context().Done() // hung
	}))
	defer server.Close()
	cfg := &rest.Config{Host: server.URL}
	withRequestTimeout(cfg, 200*time.Millisecond)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	start := time.Now()
	_, err = cs.CoreV1().ConfigMaps("default").Get(context.Background(), "x", metav1.GetOptions{})
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	require.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	defer w.Stop()
	ev := <-w.ResultChan()
	cm, ok := ev.Object.(*corev1.ConfigMap)
	require.True(t, ok, "got %#v", ev)
	require.Equal(t, "late", cm.Name, "the watch was not cut by the request timeout")
}
