package web

import "sync"

// flowTypes remembers which flows are API flows. A flow's type never
// changes, so what Hera learnt reading a flow (to render its page, or to
// classify a submission) or from Kratos's answer spares a call to Kratos
// when a later submission must be answered as Kratos would answer it. It
// holds at most size flows, forgetting the oldest first; only IDs of flows
// Kratos returned are kept.
type flowTypes struct {
	mu    sync.Mutex
	api   map[string]bool
	order []string // ring of the IDs in m, oldest at next
	next  int
}

func newFlowTypes(size int) *flowTypes {
	return &flowTypes{api: make(map[string]bool, size), order: make([]string, 0, size)}
}

func (c *flowTypes) get(id string) (api, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	api, ok = c.api[id]
	return api, ok
}

func (c *flowTypes) put(id string, api bool) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.api[id]; ok {
		return
	}
	if len(c.order) < cap(c.order) {
		c.order = append(c.order, id)
	} else {
		delete(c.api, c.order[c.next])
		c.order[c.next] = id
		c.next = (c.next + 1) % len(c.order)
	}
	c.api[id] = api
}
