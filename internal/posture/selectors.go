package posture

import (
	"encoding/json"
	"slices"
	"strings"
)

// BasicSelector is a trail's event selector, in the AWS CLI's JSON shape.
type BasicSelector struct {
	ReadWriteType                 string         `json:"ReadWriteType,omitempty"`
	IncludeManagementEvents       *bool          `json:"IncludeManagementEvents,omitempty"`
	DataResources                 []DataResource `json:"DataResources,omitempty"`
	ExcludeManagementEventSources []string       `json:"ExcludeManagementEventSources,omitempty"`
}

// DataResource is a basic selector's data resource.
type DataResource struct {
	Type   string   `json:"Type"`
	Values []string `json:"Values,omitempty"`
}

// AdvancedSelector is a trail's advanced event selector, in the AWS CLI's
// JSON shape.
type AdvancedSelector struct {
	Name           string          `json:"Name,omitempty"`
	FieldSelectors []FieldSelector `json:"FieldSelectors"`
}

// FieldSelector is one condition of an advanced selector.
type FieldSelector struct {
	Field         string   `json:"Field"`
	Equals        []string `json:"Equals,omitempty"`
	StartsWith    []string `json:"StartsWith,omitempty"`
	EndsWith      []string `json:"EndsWith,omitempty"`
	NotEquals     []string `json:"NotEquals,omitempty"`
	NotStartsWith []string `json:"NotStartsWith,omitempty"`
	NotEndsWith   []string `json:"NotEndsWith,omitempty"`
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// SummarizeBasic describes what basic event selectors record.
func SummarizeBasic(sels []BasicSelector) *Selectors {
	s := &Selectors{Raw: mustJSON(sels)}
	var scope []string
	for _, sel := range sels {
		rw := sel.ReadWriteType
		read := rw == "" || strings.EqualFold(rw, "All") || strings.EqualFold(rw, "ReadOnly")
		write := rw == "" || strings.EqualFold(rw, "All") || strings.EqualFold(rw, "WriteOnly")
		if sel.IncludeManagementEvents == nil || *sel.IncludeManagementEvents {
			s.ManagementRead = s.ManagementRead || read
			s.ManagementWrite = s.ManagementWrite || write
			s.ExcludedSources = append(s.ExcludedSources, sel.ExcludeManagementEventSources...)
		}
		for _, d := range sel.DataResources {
			if d.Type != "AWS::S3::Object" {
				continue
			}
			s.S3DataRead = s.S3DataRead || read
			s.S3DataWrite = s.S3DataWrite || write
			for _, v := range d.Values {
				if v == "arn:aws:s3" || strings.HasSuffix(v, ":s3") || strings.HasSuffix(v, ":s3:::") {
					scope = append(scope, "all buckets")
				} else {
					scope = append(scope, v)
				}
			}
		}
	}
	s.ExcludedSources = sortedUniq(s.ExcludedSources)
	s.S3DataScope = strings.Join(sortedUniq(scope), ", ")
	return s
}

// SummarizeAdvanced describes what advanced event selectors record.
func SummarizeAdvanced(sels []AdvancedSelector) *Selectors {
	s := &Selectors{Advanced: true, Raw: mustJSON(sels)}
	var scope []string
	for _, sel := range sels {
		f := map[string]FieldSelector{}
		for _, fs := range sel.FieldSelectors {
			f[fs.Field] = fs
		}
		read, write := true, true
		if ro, ok := f["readOnly"]; ok {
			switch {
			case slices.Contains(ro.Equals, "true"):
				write = false
			case slices.Contains(ro.Equals, "false"):
				read = false
			}
		}
		cat := f["eventCategory"]
		switch {
		case slices.Contains(cat.Equals, "Management"):
			s.ManagementRead = s.ManagementRead || read
			s.ManagementWrite = s.ManagementWrite || write
			if es, ok := f["eventSource"]; ok {
				s.ExcludedSources = append(s.ExcludedSources, es.NotEquals...)
			}
		case slices.Contains(cat.Equals, "Data") && slices.Contains(f["resources.type"].Equals, "AWS::S3::Object"):
			s.S3DataRead = s.S3DataRead || read
			s.S3DataWrite = s.S3DataWrite || write
			if arn, ok := f["resources.ARN"]; ok {
				scope = append(scope, append(arn.StartsWith, arn.Equals...)...)
			} else {
				scope = append(scope, "all buckets")
			}
		}
	}
	s.ExcludedSources = sortedUniq(s.ExcludedSources)
	s.S3DataScope = strings.Join(sortedUniq(scope), ", ")
	return s
}

func sortedUniq(v []string) []string {
	v = slices.Clone(v)
	slices.Sort(v)
	return slices.Compact(v)
}

// mergeSelectors returns the selectors JSON (raw, in the CLI shape) with
// all management events and/or S3 data events added.
func mergeSelectors(raw string, advanced, mgmt, s3write, s3read bool) string {
	if advanced {
		var sels []AdvancedSelector
		_ = json.Unmarshal([]byte(raw), &sels)
		if mgmt {
			sels = slices.DeleteFunc(sels, func(a AdvancedSelector) bool {
				for _, f := range a.FieldSelectors {
					if f.Field == "eventCategory" && slices.Contains(f.Equals, "Management") {
						return true
					}
				}
				return false
			})
			sels = append([]AdvancedSelector{{Name: "Management events", FieldSelectors: []FieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}}}}, sels...)
		}
		if s3write || s3read {
			fs := []FieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}}}
			name := "S3 data events"
			switch {
			case s3write && !s3read:
				fs, name = append(fs, FieldSelector{Field: "readOnly", Equals: []string{"false"}}), "S3 write data events"
			case s3read && !s3write:
				fs, name = append(fs, FieldSelector{Field: "readOnly", Equals: []string{"true"}}), "S3 read data events"
			}
			sels = append(sels, AdvancedSelector{Name: name, FieldSelectors: fs})
		}
		return mustJSON(sels)
	}
	var sels []BasicSelector
	_ = json.Unmarshal([]byte(raw), &sels)
	yes := true
	if len(sels) == 0 {
		sels = []BasicSelector{{ReadWriteType: "All", IncludeManagementEvents: &yes}}
	}
	if mgmt {
		i := slices.IndexFunc(sels, func(b BasicSelector) bool { return b.IncludeManagementEvents == nil || *b.IncludeManagementEvents })
		if i < 0 {
			i = 0
		}
		sels[i].ReadWriteType, sels[i].IncludeManagementEvents, sels[i].ExcludeManagementEventSources = "All", &yes, nil
	}
	if s3write || s3read {
		rw := "All"
		switch {
		case s3write && !s3read:
			rw = "WriteOnly"
		case s3read && !s3write:
			rw = "ReadOnly"
		}
		no := false
		sels = append(sels, BasicSelector{ReadWriteType: rw, IncludeManagementEvents: &no, DataResources: []DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3"}}}})
	}
	return mustJSON(sels)
}
