package appfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/ferryhq/ferry/api/v1beta1"
)

func sortedRefs(used map[string]DefinitionRef) []DefinitionRef {
	out := make([]DefinitionRef, 0, len(used))
	for _, ref := range used {
		out = append(out, ref)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// RevisionHash identifies what an Application deploys: its spec, its publish version and the
// content of every definition it uses. The same inputs give the same hash, whatever the order of
// map keys; a change to any definition the app uses gives a new one.
func RevisionHash(app *v1beta1.Application, defs []DefinitionRef) (string, error) {
	data, err := json.Marshal(struct {
		Spec           v1beta1.ApplicationSpec `json:"spec"`
		PublishVersion string                  `json:"publishVersion,omitempty"`
		Definitions    []DefinitionRef         `json:"definitions"`
		// RollbackTo makes a rollback a new revision even when only definitions differ.
		RollbackTo string `json:"rollbackTo,omitempty"`
	}{app.Spec, app.Annotations[v1beta1.AnnotationPublishVersion], defs, app.Annotations[v1beta1.AnnotationRollbackTo]})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16], nil
}
