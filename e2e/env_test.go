package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appview"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestEnvironmentView runs `ferry env ls` (the built CLI) through a promotion on a hub with two
// managed clusters and real work agents: staging gets revision 1, prod waits for the approval;
// `ferry workflow resume` records the approver and prod gets revision 1; a new image makes
// revision 2, which reaches staging while prod keeps running revision 1 until approved again.
func TestEnvironmentView(t *testing.T) {
	f := startFleet(t,
		testenv.ClusterSpec{Name: "staging", Labels: map[string]string{"env": "staging"}},
		testenv.ClusterSpec{Name: "prod", Labels: map[string]string{"env": "prod"}})
	ferry := ferryOnHub(t, f)
	shop, err := os.ReadFile("../examples/multi-env/app.yaml")
	require.NoError(t, err)
	f.applyApp(string(shop))
	f.waitApp("shop", "shop", "the approval", phase(v1beta1.ApplicationWorkflowSuspending))

	envs := func() map[string]appview.Environment {
		t.Helper()
		out, err := ferry("env", "ls", "shop", "-n", "shop", "-o", "json")
		require.NoError(t, err, out)
		var list []appview.Environment
		require.NoError(t, json.Unmarshal([]byte(out), &list), out)
		byKey := map[string]appview.Environment{}
		for _, e := range list {
			byKey[e.Step+"@"+e.Cluster] = e
		}
		return byKey
	}
	got := envs()
	require.Len(t, got, 2, "%v", got)
	staging := got["deploy-staging@staging"]
	require.Equal(t, "shop-v1", staging.Revision)
	require.Equal(t, 2, staging.Components)
	require.Equal(t, 2, staging.Healthy)
	require.NotNil(t, staging.Since)
	require.Equal(t, "pending", got["deploy-prod@"].Phase, "prod has nothing yet")

	out, err := ferry("workflow", "resume", "shop", "-n", "shop")
	require.NoError(t, err, out)
	require.Contains(t, out, "application shop/shop: workflow resumed by admin")
	f.waitApp("shop", "shop", "running on both", phase(v1beta1.ApplicationRunning))
	got = envs()
	prod := got["deploy-prod@prod"]
	require.Equal(t, "shop-v1", prod.Revision)
	require.Equal(t, "admin", prod.ApprovedBy)
	require.Equal(t, "succeeded", prod.Phase)
	table, err := ferry("env", "ls", "shop", "-n", "shop")
	require.NoError(t, err, table)
	require.Regexp(t, `(?m)^deploy-prod\s+prod\s+shop-v1\s+2/2\s+\S+ ago\s+admin\s+succeeded$`, table)

	// Revision 2 reaches staging; prod still runs revision 1.
	f.applyApp(strings.ReplaceAll(string(shop), "shop-frontend:2.3.1", "shop-frontend:2.4.0"))
	f.waitApp("shop", "shop", "revision 2's approval", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationWorkflowSuspending && a.Status.Workflow.AppRevision == "shop-v2"
	})
	got = envs()
	require.Equal(t, "shop-v2", got["deploy-staging@staging"].Revision)
	require.Equal(t, "shop-v1", got["deploy-prod@prod"].Revision, "prod keeps revision 1 until approved")
	require.Equal(t, "pending", got["deploy-prod@prod"].Phase)
	require.Equal(t, "shop-frontend:2.3.1", strings.TrimPrefix(f.deployment("prod", "shop", "frontend").Spec.Template.Spec.Containers[0].Image, "ghcr.io/ferryhq/"))
}
