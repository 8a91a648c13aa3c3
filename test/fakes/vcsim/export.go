// Part of vcsim-fake (a fake that extends vcsim where it lacks vSphere behaviour; as strict as
// VMware's docs): NFC *export* leases and snapshot chains.
//
// VirtualMachineSnapshot.ExportSnapshot (vSphere API 4.0+, privilege VApp.Export; stock vcsim
// v0.46.3 does not have it) answers with an HttpNfcLease that starts `initializing` and becomes
// `ready` shortly after (or `error`, when the admin API injects a fault), whose info has one
// deviceUrl per disk of the snapshot: key "/<vm>/<ControllerType><bus>:<unit>" (the immutable
// device id real vCenter gives export leases), disk true, url https://*/nfc/<lease>/disk-<n>.vmdk,
// leaseTimeout (300 s, or what the admin API set). A GET of that URL serves the disk *as of the
// snapshot* (its backing in the snapshot's config, following the delta chain) as a
// streamOptimized VMDK, made by `qemu-img convert` when asked. The client must call
// HttpNfcLeaseProgress before leaseTimeout passes: a lease left alone that long goes to `error`
// (Timedout) and its download stops. HttpNfcLeaseComplete ends it `done`, HttpNfcLeaseAbort
// `error`; each final state is recorded for the tests. While an export lease on a VM is open,
// removing one of its snapshots is refused (TaskInProgress), as vCenter blocks operations that
// alter a leased VM.
//
// Snapshot chains: vcsim's snapshots make no delta disk. POST /imageport-fake/vm-disk-parent
// points a VM's disk at a real delta the test made (a descriptor with parentCID and SPARSE
// extents on top of a flat base, as qemu-img makes them) and sets backing.parent, so vCenter
// reports a chain and the base's flat extent does not hold the disk's current content.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// exportFailure is what the admin API makes the next export leases do.
type exportFailure struct {
	// LeaseError: the lease goes to `error` with this fault (e.g. "FileFault") instead of `ready`.
	LeaseError string `json:"leaseError,omitempty"`
	// TruncateAfterBytes: a download stops (connection closed) after this many body bytes.
	TruncateAfterBytes int64 `json:"truncateAfterBytes,omitempty"`
}

// exportLeases are the export leases made, by id.
type exportLeases struct {
	m       sync.Map // id -> *exportLease
	mu      sync.Mutex
	failure exportFailure
}

func (e *exportLeases) setFailure(f exportFailure) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failure = f
}

func (e *exportLeases) currentFailure() exportFailure {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failure
}

// states is each export lease's state now ("initializing", "ready", "done", "error: <fault>").
func (e *exportLeases) states() map[string]string {
	out := map[string]string{}
	e.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*exportLease).describe()
		return true
	})
	return out
}

// openOn says whether an export lease on the VM is still initializing or ready (and alive).
func (e *exportLeases) openOn(vm types.ManagedObjectReference) bool {
	open := false
	e.m.Range(func(_, v any) bool {
		l := v.(*exportLease)
		if l.vm == vm && l.isOpen() {
			open = true
		}
		return !open
	})
	return open
}

type exportLease struct {
	mo.HttpNfcLease
	fake  *fake
	vm    types.ManagedObjectReference
	files map[string]string // URL name -> local descriptor path (the disk as of the snapshot)

	mu       sync.Mutex
	seen     time.Time
	final    string // "done", "error: ..." once over
	truncate int64
}

// exportSnapshot carries the snapshot method vcsim lacks.
type exportSnapshot struct {
	*simulator.VirtualMachineSnapshot
	fake *fake
}

func (s *exportSnapshot) ExportSnapshot(ctx *simulator.Context, req *types.ExportSnapshot) soap.HasFault {
	body := new(methods.ExportSnapshotBody)
	vm, ok := ctx.Map.Get(s.Vm).(*simulator.VirtualMachine)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: s.Vm})
		return body
	}
	failure := s.fake.exports.currentFailure()
	lease := &exportLease{
		HttpNfcLease: mo.HttpNfcLease{State: types.HttpNfcLeaseStateInitializing},
		fake:         s.fake,
		vm:           vm.Self,
		files:        map[string]string{},
		truncate:     failure.TruncateAfterBytes,
	}
	ctx.Session.Put(lease)
	s.fake.exports.m.Store(lease.Self.Value, lease)

	// The disks as of the snapshot, with their device ids.
	devices := object.VirtualDeviceList(s.Config.Hardware.Device)
	var urls []types.HttpNfcLeaseDeviceUrl
	var capacityKB int64
	for _, d := range devices {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		backing, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			continue
		}
		var file object.DatastorePath
		file.FromString(backing.GetVirtualDeviceFileBackingInfo().FileName)
		dir := datastoreDir(file.Datastore)
		if dir == "" {
			continue
		}
		name := fmt.Sprintf("disk-%d.vmdk", len(urls))
		lease.files[name] = filepath.Join(dir, file.Path)
		capacityKB += capacityOf(disk) / 1024
		urls = append(urls, types.HttpNfcLeaseDeviceUrl{
			Key:      deviceID(vm.Self, devices, disk),
			Url:      (&url.URL{Scheme: "https", Host: "*", Path: "/nfc/" + path.Join(lease.Self.Value, name)}).String(),
			Disk:     types.NewBool(true),
			TargetId: name,
		})
	}
	timeout := int32(300)
	if t := s.fake.nfcLeaseTimeout.Load(); t > 0 {
		timeout = int32(t)
	}
	// Preparing the lease takes a moment on vCenter: clients must wait for `ready`.
	go func() {
		time.Sleep(150 * time.Millisecond)
		if failure.LeaseError != "" {
			lease.fail(failure.LeaseError, "the export could not be prepared (fault injected by the test)")
			return
		}
		info := &types.HttpNfcLeaseInfo{Lease: lease.Self, Entity: vm.Self, DeviceUrl: urls, TotalDiskCapacityInKB: capacityKB, LeaseTimeout: timeout}
		lease.mu.Lock()
		defer lease.mu.Unlock()
		if lease.final != "" {
			return // aborted while initializing
		}
		lease.seen = time.Now()
		lease.Info = info
		lease.State = types.HttpNfcLeaseStateReady
	}()
	body.Res = &types.ExportSnapshotResponse{Returnval: lease.Self}
	return body
}

// deviceID is the export lease key of a disk: "/vm-42/VirtualLsiLogicController0:0".
func deviceID(vm types.ManagedObjectReference, devices object.VirtualDeviceList, disk *types.VirtualDisk) string {
	controller := devices.FindByKey(disk.ControllerKey)
	unit := int32(0)
	if disk.UnitNumber != nil {
		unit = *disk.UnitNumber
	}
	if c, ok := controller.(types.BaseVirtualController); ok {
		return fmt.Sprintf("/%s/%s%d:%d", vm.Value, reflect.TypeOf(controller).Elem().Name(), c.GetVirtualController().BusNumber, unit)
	}
	return fmt.Sprintf("/%s/%d", vm.Value, disk.Key)
}

func (l *exportLease) describe() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.final != "" {
		return l.final
	}
	return string(l.State)
}

// expiredNow moves a ready lease left without HttpNfcLeaseProgress for leaseTimeout to `error`.
func (l *exportLease) expiredNow() bool {
	l.mu.Lock()
	if l.final != "" {
		l.mu.Unlock()
		return true
	}
	if l.State != types.HttpNfcLeaseStateReady || l.Info == nil {
		l.mu.Unlock()
		return false
	}
	timeout := time.Duration(l.Info.LeaseTimeout) * time.Second
	since := time.Since(l.seen)
	l.mu.Unlock()
	if since <= timeout {
		return false
	}
	l.fail("Timedout", fmt.Sprintf("the lease timed out: no HttpNfcLeaseProgress for %s (its timeout is %s)", since.Round(time.Millisecond), timeout))
	return true
}

func (l *exportLease) isOpen() bool {
	if l.expiredNow() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.final == ""
}

// fail puts the lease in `error` with a fault of that type.
func (l *exportLease) fail(faultName, message string) {
	fault := map[string]types.BaseMethodFault{
		"Timedout":     new(types.Timedout),
		"FileFault":    &types.FileFault{File: "disk"},
		"InvalidState": new(types.InvalidState),
	}[faultName]
	if fault == nil {
		fault = new(types.SystemError)
	}
	if !l.end("error: " + faultName) {
		return
	}
	// Not under vcsim's object lock: a SOAP call on the lease may hold it (this runs inside one).
	l.mu.Lock()
	l.State = types.HttpNfcLeaseStateError
	l.Error = &types.LocalizedMethodFault{Fault: fault, LocalizedMessage: message}
	l.mu.Unlock()
}

// end records the final state once.
func (l *exportLease) end(state string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.final != "" {
		return false
	}
	l.final = state
	return true
}

func (l *exportLease) invalid(what string) *soap.Fault {
	return simulator.Fault(fmt.Sprintf("%s: the lease is %s", what, l.describe()), new(types.InvalidState))
}

func (l *exportLease) HttpNfcLeaseProgress(ctx *simulator.Context, req *types.HttpNfcLeaseProgress) soap.HasFault {
	if !l.isOpen() || l.State != types.HttpNfcLeaseStateReady {
		if l.describe() == "error: Timedout" {
			return &methods.HttpNfcLeaseProgressBody{Fault_: simulator.Fault("the lease timed out", new(types.Timedout))}
		}
		return &methods.HttpNfcLeaseProgressBody{Fault_: l.invalid("HttpNfcLeaseProgress")}
	}
	l.mu.Lock()
	l.seen = time.Now()
	l.mu.Unlock()
	l.TransferProgress = req.Percent
	return &methods.HttpNfcLeaseProgressBody{Res: new(types.HttpNfcLeaseProgressResponse)}
}

func (l *exportLease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	if !l.isOpen() || l.State != types.HttpNfcLeaseStateReady {
		return &methods.HttpNfcLeaseCompleteBody{Fault_: l.invalid("HttpNfcLeaseComplete")}
	}
	l.end("done")
	l.mu.Lock()
	l.State = types.HttpNfcLeaseStateDone
	l.mu.Unlock()
	return &methods.HttpNfcLeaseCompleteBody{Res: new(types.HttpNfcLeaseCompleteResponse)}
}

func (l *exportLease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	if l.end("aborted") {
		l.mu.Lock()
		l.State = types.HttpNfcLeaseStateError
		l.Error = &types.LocalizedMethodFault{Fault: new(types.RequestCanceled), LocalizedMessage: "the client aborted the lease"}
		l.mu.Unlock()
	}
	return &methods.HttpNfcLeaseAbortBody{Res: new(types.HttpNfcLeaseAbortResponse)}
}

// exportGet serves GET /nfc/<lease>/<disk>.vmdk of an export lease; false when the lease is not one.
func (f *fake) exportGet(w http.ResponseWriter, r *http.Request, id, name string) bool {
	v, ok := f.exports.m.Load(id)
	if !ok {
		return false
	}
	lease := v.(*exportLease)
	if !lease.isOpen() || lease.State != types.HttpNfcLeaseStateReady {
		http.Error(w, "the export lease is "+lease.describe()+", not ready", http.StatusNotFound)
		return true
	}
	descriptor, ok := lease.files[name]
	if !ok {
		http.Error(w, "the export lease has no device "+name, http.StatusNotFound)
		return true
	}
	f.stats.update(func() { f.stats.NfcDownloads++ })
	tmp, err := os.CreateTemp("", "export-*.vmdk")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return true
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// The disk as of the snapshot, its chain followed, as ESXi streams it: streamOptimized.
	out, err := exec.Command("qemu-img", "convert", "-f", "vmdk", "-O", "vmdk", "-o", "subformat=streamOptimized", descriptor, tmp.Name()).CombinedOutput()
	if err != nil {
		http.Error(w, fmt.Sprintf("the disk could not be read: %s", bytes.TrimSpace(out)), http.StatusInternalServerError)
		return true
	}
	file, err := os.Open(tmp.Name())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return true
	}
	defer file.Close()
	info, _ := file.Stat()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(info.Size()))
	w.WriteHeader(http.StatusOK)
	in := bufio.NewReaderSize(file, 64<<10)
	buf := make([]byte, 64<<10)
	var sent int64
	for {
		if lease.expiredNow() {
			return true // the connection closes short of Content-Length
		}
		if delay := f.nfcDelayMs.Load(); delay > 0 {
			time.Sleep(time.Duration(delay) * time.Millisecond)
		}
		n, err := io.ReadFull(in, buf)
		if lease.truncate > 0 && sent+int64(n) > lease.truncate {
			n = int(lease.truncate - sent)
			_, _ = w.Write(buf[:n])
			f.stats.update(func() { f.stats.NfcBytesSent += int64(n) })
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return true
			}
			sent += int64(n)
			f.stats.update(func() { f.stats.NfcBytesSent += int64(n) })
		}
		if err != nil {
			return true
		}
	}
}

type vmDiskParentRequest struct {
	VM             string `json:"vm"`
	DeviceKey      int32  `json:"deviceKey"` // 0: the VM's first disk
	FileName       string `json:"fileName"`  // the delta: "[LocalDS_0] vm/disk1-000001.vmdk", a descriptor with parentCID
	ParentFileName string `json:"parentFileName"`
}

var parentCID = regexp.MustCompile(`(?m)^parentCID\s*=\s*"?([0-9a-fA-F]+)"?\s*$`)

// setVMDiskParent makes a VM's disk the delta `fileName` on top of `parentFileName`.
func setVMDiskParent(req vmDiskParentRequest) (any, error) {
	local := func(fileName string) (string, error) {
		var p object.DatastorePath
		if !p.FromString(fileName) {
			return "", fmt.Errorf("%q is not a datastore path", fileName)
		}
		dir := datastoreDir(p.Datastore)
		if dir == "" {
			return "", fmt.Errorf("%s: no datastore %q", fileName, p.Datastore)
		}
		return filepath.Join(dir, p.Path), nil
	}
	delta, err := local(req.FileName)
	if err != nil {
		return nil, err
	}
	if _, err := local(req.ParentFileName); err != nil {
		return nil, err
	}
	head, err := os.ReadFile(delta)
	if err != nil {
		return nil, err
	}
	m := parentCID.FindSubmatch(head)
	if m == nil || string(bytes.ToLower(m[1])) == "ffffffff" {
		return nil, fmt.Errorf("%s is not a delta disk (its descriptor has no parentCID)", req.FileName)
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
			backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if !ok {
				err = fmt.Errorf("disk %d has no flat backing", disk.Key)
				return
			}
			parent := *backing
			parent.FileName = req.ParentFileName
			parent.Parent = nil
			parent.ChangeId = ""
			backing.FileName = req.FileName
			backing.Parent = &parent
			req.DeviceKey, err = disk.Key, nil
			return
		}
	})
	return req, err
}
