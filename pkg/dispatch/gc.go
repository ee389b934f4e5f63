package dispatch

import (
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
)

// UpdateCollection is what garbage collection does with the objects an old revision's tracker
// lists, once the latest revision's workflow has succeeded.
type UpdateCollection struct {
	// Collect are the objects to let go of (delete, orphan or hand over; see Hub.Collect).
	Collect []v1beta1.ManagedResource
	// Keep are the objects kept until the app is deleted: they move to the latest revision's
	// tracker, so they stay tracked.
	Keep []v1beta1.ManagedResource
}

// CollectOnUpdate decides for an old revision's tracked objects, given the keys
// (ResourceKey) of the objects the latest revision's tracker lists: those it still wants stay,
// collect-never objects are untracked, collect-on-delete ones are kept, the rest are collected.
func CollectOnUpdate(old []v1beta1.ManagedResource, wanted map[string]bool) UpdateCollection {
	var out UpdateCollection
	for _, res := range old {
		if wanted[ResourceKey(res)] {
			continue
		}
		switch res.Collect {
		case appfile.CollectNever:
		case appfile.CollectOnAppDelete:
			out.Keep = append(out.Keep, res)
		default:
			out.Collect = append(out.Collect, res)
		}
	}
	return out
}

// CollectOnDelete lists what deleting an app lets go of: every object its trackers list, once,
// except collect-never ones.
func CollectOnDelete(trackers []v1beta1.ResourceTracker) []v1beta1.ManagedResource {
	seen := map[string]bool{}
	var out []v1beta1.ManagedResource
	for _, rt := range trackers {
		for _, res := range rt.Spec.ManagedResources {
			key := ResourceKey(res)
			if seen[key] || res.Collect == appfile.CollectNever {
				continue
			}
			seen[key] = true
			out = append(out, res)
		}
	}
	return out
}
