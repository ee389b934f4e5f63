package console

import (
	"fmt"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// graph is a workflow laid out for an SVG: steps in columns by dependency depth, a step
// group as one box listing its sub-steps, edges from each step to those that wait for it.
type graph struct {
	Width, Height int
	Nodes         []graphNode
	Edges         []graphEdge
	// Label describes the whole graph for assistive technology.
	Label string
}

type graphNode struct {
	Name, Type, Phase string
	X, Y, W, H        int
	Subs              []graphSub
	// Title is the node's tooltip and accessible name.
	Title string
}

type graphSub struct {
	Name, Phase string
	X, Y        int
}

type graphEdge struct {
	X1, Y1, X2, Y2 int
}

const (
	nodeW, nodeH, subH = 190, 46, 22
	colGap, rowGap     = 60, 24
	pad                = 12
)

type stepInfo struct {
	name, typ string
	deps      []string
	subs      []string
}

// buildGraph lays out an app's workflow. Steps come from the spec when it has a workflow,
// else from the status (the default workflow the controller generated); phases from the
// status. In StepByStep mode each step waits for the one before it as well as for its
// dependsOn; in DAG mode only for its dependsOn.
func buildGraph(app *v1beta1.Application) *graph {
	var steps []stepInfo
	dag := false
	if wf := app.Spec.Workflow; wf != nil && len(wf.Steps) > 0 {
		dag = wf.Mode != nil && wf.Mode.Steps == v1beta1.WorkflowModeDAG
		for _, s := range wf.Steps {
			info := stepInfo{name: s.Name, typ: s.Type, deps: s.DependsOn}
			for _, sub := range s.SubSteps {
				info.subs = append(info.subs, sub.Name)
			}
			steps = append(steps, info)
		}
	} else if ws := app.Status.Workflow; ws != nil {
		for _, s := range ws.Steps {
			info := stepInfo{name: s.Name, typ: s.Type}
			for _, sub := range s.SubStepsStatus {
				info.subs = append(info.subs, sub.Name)
			}
			steps = append(steps, info)
		}
	}
	if len(steps) == 0 {
		return nil
	}
	phase := map[string]string{}
	if ws := app.Status.Workflow; ws != nil {
		for _, s := range ws.Steps {
			phase[s.Name] = s.Phase
			for _, sub := range s.SubStepsStatus {
				phase[s.Name+"/"+sub.Name] = sub.Phase
			}
		}
	}
	index := map[string]int{}
	for i, s := range steps {
		index[s.name] = i
	}
	// Each step's waits: its dependsOn, and in StepByStep mode the step before it.
	waits := make([][]int, len(steps))
	for i, s := range steps {
		for _, d := range s.deps {
			if j, ok := index[d]; ok && j != i {
				waits[i] = append(waits[i], j)
			}
		}
		if !dag && i > 0 && len(s.deps) == 0 {
			waits[i] = append(waits[i], i-1)
		}
	}
	// Column = longest chain of waits before the step (a cycle, refused at admission, is cut).
	col := make([]int, len(steps))
	state := make([]int, len(steps)) // 0 new, 1 visiting, 2 done
	var depth func(i int) int
	depth = func(i int) int {
		switch state[i] {
		case 1:
			return 0
		case 2:
			return col[i]
		}
		state[i] = 1
		d := 0
		for _, j := range waits[i] {
			d = max(d, depth(j)+1)
		}
		col[i], state[i] = d, 2
		return d
	}
	g := &graph{}
	rows := map[int]int{} // next free y per column
	for i := range steps {
		depth(i)
	}
	for i, s := range steps {
		c := col[i]
		h := nodeH + subH*len(s.subs)
		n := graphNode{Name: s.name, Type: s.typ, Phase: orPending(phase[s.name]), X: pad + c*(nodeW+colGap), Y: pad + rows[c], W: nodeW, H: h}
		n.Title = fmt.Sprintf("step %s (%s): %s", s.name, s.typ, n.Phase)
		for k, sub := range s.subs {
			n.Subs = append(n.Subs, graphSub{Name: sub, Phase: orPending(phase[s.name+"/"+sub]), X: n.X + 18, Y: n.Y + nodeH + 4 + k*subH})
		}
		rows[c] += h + rowGap
		g.Nodes = append(g.Nodes, n)
		g.Width = max(g.Width, n.X+n.W+pad)
		g.Height = max(g.Height, n.Y+n.H+pad)
	}
	for i := range steps {
		to := g.Nodes[i]
		for _, j := range waits[i] {
			from := g.Nodes[j]
			g.Edges = append(g.Edges, graphEdge{X1: from.X + from.W, Y1: from.Y + nodeH/2, X2: to.X, Y2: to.Y + nodeH/2})
		}
	}
	mode := "step by step"
	if dag {
		mode = "as a graph of dependencies"
	}
	g.Label = fmt.Sprintf("Workflow of %d steps, run %s", len(steps), mode)
	return g
}

func orPending(p string) string {
	if p == "" {
		return "pending"
	}
	return p
}
