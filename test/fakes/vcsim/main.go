// vcsim-fake: a FAKE vSphere for imageport's tests. It is govmomi's simulator (vcsim, VPX model:
// DC0, DC0_C0 with hosts, VMs such as DC0_H0_VM0, datastore LocalDS_0) plus a fake that extends
// vcsim where it lacks vSphere behaviour; as strict as VMware's docs:
//   - users and privileges (-users), checked on login, on snapshot/CBT/reconfigure calls, by the
//     AuthorizationManager queries, and on datastore HTTP (/folder needs a session cookie);
//   - change block tracking: changeIds on snapshot disks and QueryChangedDiskAreas (cbt.go);
//   - NFC import leases that store the streamOptimized disk a client uploads (nfc.go);
//   - ExportSnapshot and NFC export leases that serve a disk as of a snapshot, and snapshot
//     chains (a VM disk that is a delta on a parent) set up through the admin API (export.go);
//   - a test-only admin API under /imageport-fake/ (http.go).
//
// It prints one JSON ready line on stdout: {"url":...,"datastoreDir":...,"pid":...}.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
)

// fake holds everything this program adds to vcsim.
type fake struct {
	auth            *auth
	cbt             *cbt
	stats           *stats
	maxAreas        int
	folderDelayMs   atomic.Int64
	leases          leases
	exports         exportLeases
	nfcDelayMs      atomic.Int64
	nfcLeaseTimeout atomic.Int64 // seconds; 0: vcsim's
}

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: any free port; the ready line names it)")
	certFile := flag.String("tlscert", "", "PEM certificate to serve (default: govmomi's built-in one)")
	keyFile := flag.String("tlskey", "", "PEM private key of -tlscert")
	usersFile := flag.String("users", "", `JSON {"<user>": {"password": "...", "privileges": ["Datastore.Browse", ...] or ["*"]}}; without it any login is accepted with every privilege`)
	maxAreas := flag.Int("cbt-max-areas", 64, "most changedArea entries one QueryChangedDiskAreas answer holds")
	flag.Parse()
	log.SetPrefix("vcsim-fake: ")
	if *maxAreas < 1 {
		log.Fatal("-cbt-max-areas must be at least 1")
	}
	if (*certFile == "") != (*keyFile == "") {
		log.Fatal("-tlscert and -tlskey go together")
	}

	model := simulator.VPX()
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	auth, err := newAuth(*usersFile)
	if err != nil {
		model.Remove()
		log.Fatal(err)
	}
	f := &fake{auth: auth, cbt: newCBT(), stats: newStats(), maxAreas: *maxAreas}

	// A User on Listen makes vcsim ask SessionManager.ValidLogin instead of accepting anyone.
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword("imageport-fake", "see -users")}
	model.Service.TLS = new(tls.Config)
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			model.Remove()
			log.Fatal(err)
		}
		model.Service.TLS.Certificates = []tls.Certificate{cert}
	}
	simulator.Map.SessionManager().ValidLogin = f.validLogin
	simulator.Map.Handler = f.route
	simulator.Map.AddHandler(f.cbt)
	simulator.Map.AddHandler(&leaseClock{fake: f})

	// NewServer wires vcsim's handlers (/sdk, /folder, /nfc, ...) into Service.ServeMux and starts
	// its own listener; that listener is closed and the same handlers are served behind ours, so
	// every request passes the fake's checks first.
	stock := model.Service.NewServer()
	tlsConfig := stock.TLS.Clone() // holds govmomi's built-in certificate unless -tlscert was given
	stock.Close()

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		model.Remove()
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	model.Service.Listen.Host = addr
	simulator.Map.SessionManager().ServiceHostName = addr
	server := &http.Server{
		Handler:   f.routes(model.Service),
		TLSConfig: tlsConfig,
		// HTTP/1.1 only, like vcsim.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() {
		if err := server.ServeTLS(ln, "", ""); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()

	ready, _ := json.Marshal(struct {
		URL          string `json:"url"`
		DatastoreDir string `json:"datastoreDir"`
		Pid          int    `json:"pid"`
	}{"https://" + addr + "/sdk", datastoreDir("LocalDS_0"), os.Getpid()})
	fmt.Println(string(ready))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = server.Close()
	model.Remove() // deletes the datastore directories vcsim made under $TMPDIR
}

// routes puts the fake's handlers in front of vcsim's.
func (f *fake) routes(svc *simulator.Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/imageport-fake/", f.admin)
	mux.HandleFunc("/folder/", func(w http.ResponseWriter, r *http.Request) { f.folder(w, r, svc) })
	mux.HandleFunc("/nfc/", func(w http.ResponseWriter, r *http.Request) { f.nfc(w, r, svc) })
	mux.Handle("/", svc.ServeMux)
	return mux
}

// datastoreDir is the local directory behind a datastore ("" when there is none of that name).
func datastoreDir(name string) string {
	for _, e := range simulator.Map.All("Datastore") {
		if ds := e.(*simulator.Datastore); ds.Name == name {
			return ds.Info.GetDatastoreInfo().Url
		}
	}
	return ""
}

// findVM is the VM with that inventory name.
func findVM(name string) *simulator.VirtualMachine {
	for _, e := range simulator.Map.All("VirtualMachine") {
		if e.Entity().Name == name {
			return e.(*simulator.VirtualMachine)
		}
	}
	return nil
}

// inSession returns the session's copy of a wrapper around a vcsim object. vcsim dispatches to
// the session registry's object over what Map.Handler returns, so a wrapper must live there.
func inSession(ctx *simulator.Context, wrapper mo.Reference) mo.Reference {
	if existing := ctx.Session.Registry.Get(wrapper.Reference()); existing != nil {
		return existing
	}
	return ctx.Session.Registry.Put(wrapper)
}
