// Command kratosform prints how Kratos v1.3.1 itself reads identifiers and
// addresses, by calling Kratos's own code from its module source: the
// oracle of Hera's differential tests (cmd/hera/keys_test.go), which
// compare Hera's keys with it over all of Unicode. It is built from this
// module (tools/kratos) so that it runs the very Kratos Hera is tested
// against, and so that Hera's own module does not depend on Kratos.
//
// Input: one JSON string per line. Output: one JSON object per line, in
// the same order:
//
//		{"password": …, "code": …, "address": …}
//
//	  - password: the identifier the password (and webauthn) method looks an
//	    account up by: the persister's NormalizeIdentifier for the password
//	    credential type (persistence/sql/identity).
//	  - code: the identifier the code method looks an account up by and
//	    sends to: strategy_login.go's maybeNormalizeEmail (unexported, so
//	    transcribed here: strings.ToLower when the value has an "@"), then
//	    x.GracefulNormalization, then the persister's NormalizeIdentifier for
//	    the code credential type.
//	  - address: what recovery and verification look an address up by: the
//	    persister's lower-case and trim (FindRecoveryAddressByValue,
//	    FindVerifiableAddressByValue), which is its NormalizeIdentifier for
//	    the password type.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/ory/kratos/identity"
	sqlidentity "github.com/ory/kratos/persistence/sql/identity"
	"github.com/ory/kratos/x"
)

type forms struct {
	Password string `json:"password"`
	Code     string `json:"code"`
	Address  string `json:"address"`
}

func read(v string) forms {
	code := v
	if strings.Contains(code, "@") {
		code = strings.ToLower(code)
	}
	return forms{
		Password: sqlidentity.NormalizeIdentifier(identity.CredentialsTypePassword, v),
		Code:     sqlidentity.NormalizeIdentifier(identity.CredentialsTypeCodeAuth, x.GracefulNormalization(code)),
		Address:  sqlidentity.NormalizeIdentifier(identity.CredentialsTypePassword, v),
	}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	// Batches are read in parallel and written in order: a full scan is
	// millions of lines, and libphonenumber's parsing is the slow part.
	const batch = 4096
	workers := runtime.GOMAXPROCS(0)
	for {
		var lines []string
		for len(lines) < batch*workers && in.Scan() {
			var v string
			if err := json.Unmarshal(in.Bytes(), &v); err != nil {
				fmt.Fprintln(os.Stderr, "kratosform: input line is not a JSON string:", err)
				os.Exit(2)
			}
			lines = append(lines, v)
		}
		if len(lines) == 0 {
			break
		}
		res := make([]forms, len(lines))
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < len(lines); i += workers {
					res[i] = read(lines[i])
				}
			}(w)
		}
		wg.Wait()
		enc := json.NewEncoder(out)
		for _, r := range res {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(os.Stderr, "kratosform:", err)
				os.Exit(1)
			}
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "kratosform:", err)
		os.Exit(1)
	}
}
