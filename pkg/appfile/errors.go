package appfile

import (
	"fmt"
	"strings"
)

// Error is one problem with an Application, located as precisely as possible.
type Error struct {
	// Where is file:line:column, or the file, or empty.
	Where string
	// Subject names what is wrong, e.g. `component "web" (webservice): trait "scaler"`.
	Subject string
	// Message says what to change.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Where != "" {
		b.WriteString(e.Where + ": ")
	}
	if e.Subject != "" {
		b.WriteString(e.Subject + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found, in the order of the Application.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	if len(l) == 1 {
		return msgs[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(l), strings.Join(msgs, "\n  "))
}

// errOrNil returns the list as an error, or nil when it is empty.
func (l ErrorList) errOrNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// componentSubject names a component in errors.
func componentSubject(name, typ string) string {
	return fmt.Sprintf("component %q (%s)", name, typ)
}

// DescribeProblems is how every entry point (ferry dry-run, ferry up, the admission webhook)
// reports a failed plan of an Application, so that they say the same thing.
func DescribeProblems(app string, err error) string {
	return fmt.Sprintf("application %q: %v", app, err)
}
