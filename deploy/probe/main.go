// Command probe is the images' health check for Compose, which runs a
// command inside the container: the images have no shell, no curl and no
// wget. It GETs a URL (a service's /readyz on its internal port) and exits 0
// on 200, 1 otherwise. Kubernetes probes over HTTP and does not need it.
//
//	probe http://127.0.0.1:9090/readyz
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: probe URL")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	res, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, res.Status)
		os.Exit(1)
	}
}
