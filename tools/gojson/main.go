// Command gojson prints, for each JSON value on stdin, how Go's encoding/json marshals it
// (decoded as interface{}, as the upstream operator sees a stream spec) and the md5 of that output.
// Output is one JSON object per input: {"input": <raw input text>, "json": <Go output>, "md5": <hex>}.
//
// Regenerate the checked-in vectors (from the repository root):
//
//	(cd tools/gojson && go run . < ../../tests/fixtures/go-json-inputs.jsonl) > tests/fixtures/go-json-vectors.json
package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

type vector struct {
	Input string `json:"input"`
	JSON  string `json:"json"`
	MD5   string `json:"md5"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gojson:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	var vectors []vector
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		var value interface{}
		if err := json.Unmarshal(raw, &value); err != nil {
			return err
		}
		encoded, err := json.Marshal(value)
		if err != nil {
			return err
		}
		sum := md5.Sum(encoded)
		vectors = append(vectors, vector{Input: string(bytes.TrimSpace(raw)), JSON: string(encoded), MD5: hex.EncodeToString(sum[:])})
	}
	// Indented so the checked-in file diffs well; the strings inside are what the tests compare.
	encoded, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", encoded)
	return err
}
