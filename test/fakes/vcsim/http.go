// Part of vcsim-fake (a fake that extends vcsim where it lacks vSphere behaviour; as strict as
// VMware's docs): datastore HTTP with real vCenter's session and privilege checks, the counters
// tests assert on, and the test-only admin API under /imageport-fake/.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type stats struct {
	mu               sync.Mutex
	Logins           int               `json:"logins"`
	FailedLogins     int               `json:"failedLogins"`
	SoapCalls        map[string]int    `json:"soapCalls"`
	FolderGets       int               `json:"folderGets"`
	FolderBytesSent  int64             `json:"folderBytesSent"`
	NfcUploads       int               `json:"nfcUploads"`       // PUTs to import leases' disk URLs
	NfcBytesReceived int64             `json:"nfcBytesReceived"` // their body bytes
	NfcDownloads     int               `json:"nfcDownloads"`     // GETs of export leases' disk URLs
	NfcBytesSent     int64             `json:"nfcBytesSent"`     // their body bytes
	NfcExportLeases  map[string]string `json:"nfcExportLeases"`  // export lease id -> state (filled in when read)
	Snapshots        map[string]int    `json:"snapshots"`        // filled in when read
}

func newStats() *stats { return &stats{SoapCalls: map[string]int{}} }

func (s *stats) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *stats) call(method string) { s.update(func() { s.SoapCalls[method]++ }) }

func (s *stats) login(ok bool) {
	s.update(func() {
		if ok {
			s.Logins++
		} else {
			s.FailedLogins++
		}
	})
}

// folder serves /folder/<path>?dcPath=&dsName= like vCenter: a session cookie from Login is
// required (401), GET needs Datastore.Browse and PUT Datastore.FileManagement (403).
func (f *fake) folder(w http.ResponseWriter, r *http.Request, svc *simulator.Service) {
	if r.Method == http.MethodGet {
		f.stats.update(func() { f.stats.FolderGets++ })
	}
	var userName string
	cookie, err := r.Cookie(soap.SessionCookieName)
	if err == nil {
		userName, err = sessionUserOrError(cookie.Value)
	}
	if err != nil {
		http.Error(w, "datastore access needs a vSphere session (cookie "+soap.SessionCookieName+")", http.StatusUnauthorized)
		return
	}
	privilege := map[string]string{
		http.MethodGet:  "Datastore.Browse",
		http.MethodHead: "Datastore.Browse",
		http.MethodPut:  "Datastore.FileManagement",
		http.MethodPost: "Datastore.FileManagement",
	}[r.Method]
	if privilege == "" {
		http.Error(w, r.Method+" is not supported on /folder", http.StatusMethodNotAllowed)
		return
	}
	if !f.auth.granted(userName, privilege) {
		http.Error(w, fmt.Sprintf("user %s lacks privilege %s", userName, privilege), http.StatusForbidden)
		return
	}
	if r.Method == http.MethodGet {
		w = &countingWriter{ResponseWriter: w, stats: f.stats}
		// A slow datastore, so tests can act while a read is under way.
		time.Sleep(time.Duration(f.folderDelayMs.Load()) * time.Millisecond)
	}
	svc.ServeDatastore(w, r) // vcsim's: http.FileServer, so Range requests answer 206
}

func sessionUserOrError(key string) (string, error) {
	if name, ok := sessionUser(key); ok {
		return name, nil
	}
	return "", fmt.Errorf("no session %q", key)
}

// countingWriter counts the body bytes of /folder GET answers (it hides io.ReaderFrom, so
// http.FileServer writes through Write rather than sendfile).
type countingWriter struct {
	http.ResponseWriter
	stats *stats
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.stats.update(func() { c.stats.FolderBytesSent += int64(n) })
	return n, err
}

// admin serves the fake-only API (no session; callers on 127.0.0.1 only):
//
//	GET  /imageport-fake/stats
//	POST /imageport-fake/vm-disk             {"vm", "deviceKey"?, "fileName", "capacityBytes"}
//	POST /imageport-fake/vm-change-tracking  {"vm", "enabled"}
//	POST /imageport-fake/folder-delay        {"ms"}: delay before each /folder GET answer
//	POST /imageport-fake/vm-disk-parent      {"vm", "deviceKey"?, "fileName", "parentFileName"}: the disk becomes the delta fileName on parentFileName
//	POST /imageport-fake/nfc-delay           {"ms"}: delay before each read (<= 64 KiB) of an NFC upload, or each 64 KiB written of an NFC download
//	POST /imageport-fake/nfc-lease-timeout   {"seconds"}: info.leaseTimeout of leases made from now on (0: vcsim's 300)
//	POST /imageport-fake/nfc-export-failure  {"leaseError"?, "truncateAfterBytes"?}: what export leases made from now on do ({}: nothing)
func (f *fake) admin(w http.ResponseWriter, r *http.Request) {
	if host, _, _ := net.SplitHostPort(r.RemoteAddr); !net.ParseIP(host).IsLoopback() {
		http.Error(w, "the admin API answers 127.0.0.1 only", http.StatusForbidden)
		return
	}
	var res any
	var err error
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/imageport-fake/stats":
		res = f.snapshotStats()
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/vm-disk":
		var req vmDiskRequest
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			res, err = setVMDisk(req)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/vm-disk-parent":
		var req vmDiskParentRequest
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			res, err = setVMDiskParent(req)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/nfc-export-failure":
		var req exportFailure
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			f.exports.setFailure(req)
			res = req
		}
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/folder-delay":
		var req struct {
			Ms int64 `json:"ms"`
		}
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			f.folderDelayMs.Store(req.Ms)
			res = req
		}
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/nfc-delay":
		var req struct {
			Ms int64 `json:"ms"`
		}
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			f.nfcDelayMs.Store(req.Ms)
			res = req
		}
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/nfc-lease-timeout":
		var req struct {
			Seconds int64 `json:"seconds"`
		}
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			f.nfcLeaseTimeout.Store(req.Seconds)
			res = req
		}
	case r.Method == http.MethodPost && r.URL.Path == "/imageport-fake/vm-change-tracking":
		var req struct {
			VM      string `json:"vm"`
			Enabled bool   `json:"enabled"`
		}
		if err = json.NewDecoder(r.Body).Decode(&req); err == nil {
			res, err = setChangeTracking(req.VM, req.Enabled)
		}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		res = map[string]string{"error": err.Error()}
	}
	_ = json.NewEncoder(w).Encode(res)
}

func (f *fake) snapshotStats() *stats {
	s := newStats()
	f.stats.update(func() {
		s.Logins, s.FailedLogins, s.FolderGets, s.FolderBytesSent = f.stats.Logins, f.stats.FailedLogins, f.stats.FolderGets, f.stats.FolderBytesSent
		s.NfcUploads, s.NfcBytesReceived = f.stats.NfcUploads, f.stats.NfcBytesReceived
		s.NfcDownloads, s.NfcBytesSent = f.stats.NfcDownloads, f.stats.NfcBytesSent
		for k, v := range f.stats.SoapCalls {
			s.SoapCalls[k] = v
		}
	})
	s.NfcExportLeases = f.exports.states()
	s.Snapshots = map[string]int{}
	for _, e := range simulator.Map.All("VirtualMachine") {
		s.Snapshots[e.Entity().Name] += 0
	}
	for _, obj := range simulator.Map.AllReference("VirtualMachineSnapshot") {
		if vm, ok := simulator.Map.Get(obj.(*simulator.VirtualMachineSnapshot).Vm).(*simulator.VirtualMachine); ok {
			s.Snapshots[vm.Name]++
		}
	}
	return s
}

type vmDiskRequest struct {
	VM            string `json:"vm"`
	DeviceKey     int32  `json:"deviceKey"` // 0: the VM's first disk
	FileName      string `json:"fileName"`  // "[LocalDS_0] DC0_H0_VM0/disk1.vmdk", a monolithicFlat descriptor
	CapacityBytes int64  `json:"capacityBytes"`
}

// setVMDisk points a VM's disk at a real VMDK the test wrote into the datastore.
func setVMDisk(req vmDiskRequest) (any, error) {
	if req.CapacityBytes <= 0 || req.CapacityBytes%512 != 0 {
		return nil, fmt.Errorf("capacityBytes %d is not a positive multiple of 512", req.CapacityBytes)
	}
	extent, err := flatExtent(req.FileName)
	if err != nil {
		return nil, err
	}
	if extent.size < req.CapacityBytes {
		return nil, fmt.Errorf("%s holds %d bytes, less than capacityBytes %d", req.FileName, extent.size, req.CapacityBytes)
	}
	vm := findVM(req.VM)
	if vm == nil {
		return nil, fmt.Errorf("no VM named %q", req.VM)
	}
	err = fmt.Errorf("VM %s has no virtual disk with key %d", req.VM, req.DeviceKey)
	withLock(vm, func() {
		for _, d := range vm.Config.Hardware.Device {
			disk, ok := d.(*types.VirtualDisk)
			if !ok || (req.DeviceKey != 0 && disk.Key != req.DeviceKey) {
				continue
			}
			disk.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo().FileName = req.FileName
			disk.CapacityInBytes = req.CapacityBytes
			disk.CapacityInKB = req.CapacityBytes / 1024
			req.DeviceKey, err = disk.Key, nil
			return
		}
	})
	return req, err
}

func setChangeTracking(name string, enabled bool) (any, error) {
	vm := findVM(name)
	if vm == nil {
		return nil, fmt.Errorf("no VM named %q", name)
	}
	withLock(vm, func() { vm.Config.ChangeTrackingEnabled = &enabled })
	return map[string]any{"vm": name, "changeTrackingEnabled": enabled}, nil
}

// withLock runs f holding vcsim's lock on the VM, as SOAP methods run.
func withLock(vm *simulator.VirtualMachine, f func()) {
	simulator.Map.WithLock(&simulator.Context{Context: context.Background(), Map: simulator.Map}, vm, f)
}
