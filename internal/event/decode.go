package event

// Decoders of the event shapes (a batch, an event, an enriched event) on the JSON
// scanner of scan.go.

import (
	"unsafe"

	"github.com/segmentio/encoding/json"
)

// DecodeEnriched fills e from data, an Enriched as JSON on the tp.events topic. It exists
// because reflection-based decoding was most of the stitcher's CPU: it reads the shape the
// collector writes directly, and hands anything else (and every error) to json.Unmarshal,
// so e always ends up as json.Unmarshal would leave a zero Enriched.
//
// e is overwritten entirely. Its strings without escapes and e.Props point into data itself
// (which stays alive while any of them does), unlike json.Unmarshal's copies: copying every
// message once more was a tenth of the stitcher's allocations. The caller must never modify
// or reuse data after the call. A Kafka message's value is a slice of its own that nothing
// writes to, so decoding it in place is fine.
func DecodeEnriched(data []byte, e *Enriched) error {
	*e = Enriched{}
	d := decoder{data: data, s: unsafe.String(unsafe.SliceData(data), len(data))}
	if d.enriched(e, topKey) {
		return nil
	}
	*e = Enriched{}
	return json.Unmarshal(data, e)
}

// DecodeEvent fills e from data, one event as a client sends it, as json.Unmarshal would
// leave a zero Event; the collector decodes every event it receives with it. Keys of
// Enriched that are not Event's are skipped like any unknown key. Its strings share one
// copy of data, and e.Props is a subslice of data: data must not change while e is in use.
func DecodeEvent(data []byte, e *Event) error {
	var en Enriched
	d := decoder{data: data, s: string(data)}
	if d.enriched(&en, eventKey) {
		*e = en.Event
		return nil
	}
	*e = Event{}
	return json.Unmarshal(data, e)
}

// SplitBatch reads a Batch, the body of POST /e and /v1/import, leaving its events
// undecoded, so that a bad event can be refused alone and passed on as received: site is a
// substring of data and each event a subslice of it. It reads only the shape clients send,
// and ok is false for anything else, where json.Unmarshal into struct{Site string; Events
// []json.RawMessage} may differ: keys other than site and events, a repeated key, a site
// that is not a string, events that are not objects, invalid JSON, and nesting deeper
// than depth levels, the batch being the first. The caller then has the general decoder
// read data, which also says what is wrong. Skipped strings are not checked for valid
// UTF-8, as json.Unmarshal does not either.
func SplitBatch(data []byte, depth int) (site string, events []json.RawMessage, ok bool) {
	d := decoder{data: data, s: unsafe.String(unsafe.SliceData(data), len(data)), depth: depth}
	d.ws()
	if !d.eat('{') {
		return "", nil, false
	}
	var seen [2]bool
	for n := 0; ; n++ {
		key, more, ok := d.member(n)
		if !ok {
			return "", nil, false
		}
		if !more {
			break
		}
		k := batchKey(key)
		if k < 0 || seen[k] {
			return "", nil, false // another key, or one again: not what clients send
		}
		seen[k] = true
		if k == 0 {
			site, ok = d.str()
		} else {
			ok = d.rawObjects(&events)
		}
		if !ok {
			return "", nil, false
		}
	}
	d.ws()
	return site, events, d.i == len(d.s)
}

func batchKey(k string) int {
	switch k {
	case "site":
		return 0
	case "events":
		return 1
	}
	return -1
}

// rawObjects reads an array of objects, keeping the bytes of each.
func (d *decoder) rawObjects(out *[]json.RawMessage) bool {
	return d.array(func() bool {
		start := d.i
		if !d.peek('{') || !d.skip(2) { // in the batch object and the array
			return false
		}
		if *out == nil {
			*out = make([]json.RawMessage, 0, 8) // the tracker sends a few events at once
		}
		*out = append(*out, d.data[start:d.i])
		return true
	})
}

// Top-level keys, in the order of the bits that catch a repeated key; Event's come before kSite.
const (
	kID = iota
	kType
	kTS
	kVID
	kURL
	kRef
	kTitle
	kName
	kProps
	kTraits
	kForm
	kConversion
	kScreen
	kLang
	kTZ
	kIP
	kUA
	kFbc
	kFbp
	kSite
	kReceivedAt
	kOrigin
	kCountry
	kRegion
	kCity
	kBrowser
	kOS
	kDevice
	kBot
)

func topKey(k string) int {
	switch k {
	case "id":
		return kID
	case "type":
		return kType
	case "ts":
		return kTS
	case "vid":
		return kVID
	case "url":
		return kURL
	case "ref":
		return kRef
	case "title":
		return kTitle
	case "name":
		return kName
	case "props":
		return kProps
	case "traits":
		return kTraits
	case "form":
		return kForm
	case "conversion":
		return kConversion
	case "screen":
		return kScreen
	case "lang":
		return kLang
	case "tz":
		return kTZ
	case "ip":
		return kIP
	case "ua":
		return kUA
	case "fbc":
		return kFbc
	case "fbp":
		return kFbp
	case "site":
		return kSite
	case "received_at":
		return kReceivedAt
	case "origin":
		return kOrigin
	case "country":
		return kCountry
	case "region":
		return kRegion
	case "city":
		return kCity
	case "browser":
		return kBrowser
	case "os":
		return kOS
	case "device":
		return kDevice
	case "bot":
		return kBot
	}
	return -1
}

// eventKey is topKey for the keys of Event alone.
func eventKey(k string) int {
	if n := topKey(k); n < kSite {
		return n
	}
	return -1
}

// enriched reads an Enriched whose keys known finds.
func (d *decoder) enriched(e *Enriched, known func(string) int) bool {
	d.ws()
	if !d.object(known, func(k int) bool {
		switch k {
		case kID:
			return d.strField(&e.ID)
		case kType:
			return d.strField(&e.Type)
		case kTS:
			return d.intField(&e.TS)
		case kVID:
			return d.strField(&e.VID)
		case kURL:
			return d.strField(&e.URL)
		case kRef:
			return d.strField(&e.Ref)
		case kTitle:
			return d.strField(&e.Title)
		case kName:
			return d.strField(&e.Name)
		case kProps:
			return d.props(e)
		case kTraits:
			return d.traits(e)
		case kForm:
			return d.form(e)
		case kConversion:
			return d.conversion(e)
		case kScreen:
			return d.strField(&e.Screen)
		case kLang:
			return d.strField(&e.Lang)
		case kTZ:
			return d.strField(&e.TZ)
		case kIP:
			return d.strField(&e.IP)
		case kUA:
			return d.strField(&e.UA)
		case kFbc:
			return d.strField(&e.Fbc)
		case kFbp:
			return d.strField(&e.Fbp)
		case kSite:
			return d.strField(&e.Site)
		case kReceivedAt:
			return d.intField(&e.ReceivedAt)
		case kOrigin:
			return d.strField(&e.Origin)
		case kCountry:
			return d.strField(&e.Country)
		case kRegion:
			return d.strField(&e.Region)
		case kCity:
			return d.strField(&e.City)
		case kBrowser:
			return d.strField(&e.Browser)
		case kOS:
			return d.strField(&e.OS)
		case kDevice:
			return d.strField(&e.Device)
		case kBot:
			return d.boolField(&e.Bot)
		}
		return false
	}) {
		return false
	}
	d.ws()
	return d.i == len(d.s)
}

// props keeps the value's bytes as they are, as a json.RawMessage does.
func (d *decoder) props(e *Enriched) bool {
	if d.lit("null") {
		return false // stored as the literal null: rare enough to leave to json.Unmarshal
	}
	start := d.i
	if !d.skip(0) {
		return false
	}
	e.Props = d.data[start:d.i:d.i]
	return true
}

func (d *decoder) traits(e *Enriched) bool {
	if d.lit("null") {
		return true
	}
	if !d.eat('{') {
		return false
	}
	m := make(Traits)
	for n := 0; ; n++ {
		d.ws()
		if d.peek('}') {
			d.i++
			e.Traits = m
			return true
		}
		if n > 0 {
			if !d.eat(',') {
				return false
			}
			d.ws()
		}
		k, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if !d.eat(':') {
			return false
		}
		d.ws()
		// As Traits.UnmarshalJSON: numbers and booleans as their JSON text, null as no value.
		start := d.i
		var v string
		switch {
		case d.lit("null"):
			delete(m, k)
			continue
		case d.lit("true"), d.lit("false"):
			v = d.s[start:d.i]
		case d.peek('"'):
			if v, ok = d.str(); !ok {
				return false
			}
		default:
			if !d.number() {
				return false
			}
			v = d.s[start:d.i]
		}
		m[k] = v
	}
}

const (
	fID = iota
	fName
	fAction
	fFields
	fSearch
	fPassword
)

func formKey(k string) int {
	switch k {
	case "id":
		return fID
	case "name":
		return fName
	case "action":
		return fAction
	case "fields":
		return fFields
	case "search":
		return fSearch
	case "password":
		return fPassword
	}
	return -1
}

func (d *decoder) form(e *Enriched) bool {
	if d.lit("null") {
		return true
	}
	f := &Form{}
	if !d.object(formKey, func(k int) bool {
		switch k {
		case fID:
			return d.strField(&f.ID)
		case fName:
			return d.strField(&f.Name)
		case fAction:
			return d.strField(&f.Action)
		case fFields:
			return d.fields(f)
		case fSearch:
			return d.boolField(&f.Search)
		case fPassword:
			return d.boolField(&f.Password)
		}
		return false
	}) {
		return false
	}
	e.Form = f
	return true
}

func (d *decoder) fields(f *Form) bool {
	if d.lit("null") {
		return true
	}
	f.Fields = []string{} // an empty array is an empty, non-nil slice
	return d.array(func() bool {
		v, ok := d.str()
		f.Fields = append(f.Fields, v)
		return ok
	})
}

const (
	cID = iota
	cType
	cLeadType
	cValue
	cCurrency
)

func conversionKey(k string) int {
	switch k {
	case "id":
		return cID
	case "type":
		return cType
	case "lead_type":
		return cLeadType
	case "value":
		return cValue
	case "currency":
		return cCurrency
	}
	return -1
}

func (d *decoder) conversion(e *Enriched) bool {
	if d.lit("null") {
		return true
	}
	c := &ConversionInfo{}
	if !d.object(conversionKey, func(k int) bool {
		switch k {
		case cID:
			return d.strField(&c.ID)
		case cType:
			return d.strField(&c.Type)
		case cLeadType:
			return d.strField(&c.LeadType)
		case cValue:
			return d.floatField(&c.Value)
		case cCurrency:
			return d.strField(&c.Currency)
		}
		return false
	}) {
		return false
	}
	e.Conversion = c
	return true
}
