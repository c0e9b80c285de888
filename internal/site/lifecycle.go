package site

import (
	"fmt"
	"regexp"
	"slices"
)

// Lifecycle is how a site's leads move on: the funnel's stages in order (the first is
// lead), the stages that leave it (a lost deal, a lead sent back to nurturing), how many
// days in each stage make a person stalled, and which stage carries the pipeline value
// (the CRM's opportunity values).
type Lifecycle struct {
	Stages         []string       `json:"stages,omitempty"`
	ExitStages     []string       `json:"exit_stages,omitempty"`
	StallAfterDays map[string]int `json:"stall_after_days,omitempty"` // by stage; "default" for the others
	PipelineStage  string         `json:"pipeline_stage,omitempty"`
}

// Default lifecycle of a site that configures none.
var (
	DefaultStages     = []string{"lead", "mql", "sal", "sql", "opportunity", "customer"}
	DefaultExitStages = []string{"closed_lost", "recycled"}
)

// DefaultStallDays is how many days in a stage make a person stalled when the site says
// nothing about the stage.
const DefaultStallDays = 30

var stageRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// checkLifecycle validates the lifecycle and fills in its defaults.
func (s *Site) checkLifecycle() error {
	l := &s.Lifecycle
	if l.Stages == nil {
		l.Stages = slices.Clone(DefaultStages)
	}
	if l.ExitStages == nil {
		l.ExitStages = slices.Clone(DefaultExitStages)
	}
	if len(l.Stages) < 2 || l.Stages[0] != "lead" {
		return fmt.Errorf("lifecycle.stages: lead first, then at least one more stage")
	}
	seen := map[string]bool{}
	for _, st := range append(slices.Clone(l.Stages), l.ExitStages...) {
		switch {
		case !stageRe.MatchString(st):
			return fmt.Errorf("lifecycle: stage %q is not a name of a-z, 0-9 and _ (as conversion types are)", st)
		case seen[st]:
			return fmt.Errorf("lifecycle: stage %q is listed twice", st)
		case st == "sale" || st == "default":
			return fmt.Errorf("lifecycle: %q cannot be a stage", st)
		}
		seen[st] = true
	}
	for st, d := range l.StallAfterDays {
		if st != "default" && !slices.Contains(l.Stages, st) {
			return fmt.Errorf("lifecycle.stall_after_days: %q is not one of the stages", st)
		}
		if d <= 0 {
			return fmt.Errorf("lifecycle.stall_after_days: %s is a positive number of days", st)
		}
	}
	if l.PipelineStage == "" && slices.Contains(l.Stages, "opportunity") {
		l.PipelineStage = "opportunity"
	}
	if l.PipelineStage != "" && !slices.Contains(l.Stages, l.PipelineStage) {
		return fmt.Errorf("lifecycle.pipeline_stage: %q is not one of the stages", l.PipelineStage)
	}
	return nil
}

// StallDays is how many days in stage make a person stalled.
func (l *Lifecycle) StallDays(stage string) int {
	if d, ok := l.StallAfterDays[stage]; ok {
		return d
	}
	if d, ok := l.StallAfterDays["default"]; ok {
		return d
	}
	return DefaultStallDays
}

// IsStage reports whether a conversion type is a stage after lead (exit stages
// included): only the site's servers may record those.
func (s *Site) IsStage(typ string) bool {
	return typ != "lead" && (slices.Contains(s.Lifecycle.Stages, typ) || slices.Contains(s.Lifecycle.ExitStages, typ))
}
