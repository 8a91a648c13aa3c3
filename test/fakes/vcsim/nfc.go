// Part of vcsim-fake (a fake that extends vcsim where it lacks vSphere behaviour; as strict as
// VMware's docs): NFC import leases that store what is uploaded. vcsim's ImportVApp makes the VM
// and its empty disk and hands out a lease, but its /nfc/ PUT only hashes the body and drops it.
// Here a PUT to an import lease's disk URL does what ESXi does: it takes a streamOptimized VMDK
// (the only disk format an import lease accepts), refuses anything else or a disk larger than
// the one the import spec made, and writes the grains into the VM's disk, a "vmfs" descriptor
// with a sparse flat extent (holes where no grain came). A lease expires when an upload goes on
// for longer than its info.leaseTimeout without HttpNfcLeaseProgress (the admin API can shorten
// the timeout vcsim gives, 300 s). It also checks the privileges on the folder and datastore
// that ImportVApp needs besides the pool's, and counts the bytes received.
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// leases are the import leases that may still receive data, by lease id, and when each was
// last known alive (ready, or HttpNfcLeaseProgress).
type leases struct {
	m    sync.Map // id -> *simulator.HttpNfcLease
	seen sync.Map // id -> time.Time
}

func (l *leases) alive(id string) { l.seen.Store(id, time.Now()) }

// expired says why the lease is dead, or "".
func (l *leases) expired(id string, lease *simulator.HttpNfcLease) string {
	seen, ok := l.seen.Load(id)
	if !ok || lease.Info == nil {
		return ""
	}
	timeout := time.Duration(lease.Info.LeaseTimeout) * time.Second
	if since := time.Since(seen.(time.Time)); since > timeout {
		l.m.Delete(id)
		return fmt.Sprintf("the lease expired: no HttpNfcLeaseProgress for %s (its timeout is %s)", since.Round(time.Millisecond), timeout)
	}
	return ""
}

// leaseClock is a vcsim registry handler: it sees each lease become ready, gives it the timeout
// the admin API set, and starts its clock.
type leaseClock struct{ fake *fake }

func (c *leaseClock) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "ImageportFakeLeaseClock", Value: "leases"}
}
func (c *leaseClock) PutObject(mo.Reference)                                        {}
func (c *leaseClock) RemoveObject(*simulator.Context, types.ManagedObjectReference) {}

// UpdateObject runs inside the update that makes a lease ready, holding its lock.
func (c *leaseClock) UpdateObject(_ *simulator.Context, obj mo.Reference, changes []types.PropertyChange) {
	lease, ok := obj.(*mo.HttpNfcLease)
	if !ok {
		return
	}
	for _, change := range changes {
		if change.Name == "info" && lease.Info != nil {
			if t := c.fake.nfcLeaseTimeout.Load(); t > 0 {
				lease.Info.LeaseTimeout = int32(t)
			}
			c.fake.leases.alive(lease.Self.Value)
		}
	}
}

// importPool wraps a resource pool for ImportVApp: the folder's and datastore's privileges are
// checked, and the lease is remembered so /nfc/ PUTs can find the VM's disk.
type importPool struct {
	*simulator.ResourcePool
	fake *fake
}

func (p *importPool) ImportVApp(ctx *simulator.Context, req *types.ImportVApp) soap.HasFault {
	entities := []types.ManagedObjectReference{}
	if req.Folder != nil {
		entities = append(entities, *req.Folder)
	}
	if spec, ok := req.Spec.(*types.VirtualMachineImportSpec); ok && spec.ConfigSpec.Files != nil {
		var file object.DatastorePath
		file.FromString(spec.ConfigSpec.Files.VmPathName)
		for _, e := range simulator.Map.All("Datastore") {
			if e.Entity().Name == file.Datastore {
				entities = append(entities, e.Reference())
			}
		}
	}
	for _, entity := range entities {
		id := map[string]string{"Folder": "VApp.Import", "Datastore": "Datastore.AllocateSpace"}[entity.Type]
		if !p.fake.auth.granted(ctx.Session.UserName, id) {
			return &methods.ImportVAppBody{Fault_: simulator.Fault("", &types.NoPermission{Object: &entity, PrivilegeId: id})}
		}
	}
	res := p.ResourcePool.ImportVApp(ctx, req)
	if body, ok := res.(*methods.ImportVAppBody); ok && body.Res != nil {
		if lease, ok := ctx.Session.Get(body.Res.Returnval).(*simulator.HttpNfcLease); ok {
			p.fake.leases.m.Store(body.Res.Returnval.Value, lease)
		}
	}
	return res
}

// nfc serves PUT/POST to an import lease's disk URL (/nfc/<lease>/<file>) and GET of an export
// lease's (export.go); anything else is vcsim's.
func (f *fake) nfc(w http.ResponseWriter, r *http.Request, svc *simulator.Service) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/nfc/"), "/")
	if r.Method == http.MethodGet && len(parts) == 2 && f.exportGet(w, r, parts[0], parts[1]) {
		return
	}
	if (r.Method != http.MethodPut && r.Method != http.MethodPost) || len(parts) != 2 {
		svc.ServeMux.ServeHTTP(w, r)
		return
	}
	l, ok := f.leases.m.Load(parts[0])
	if !ok {
		http.Error(w, "no import lease "+parts[0]+" is open (completed, aborted or never made)", http.StatusNotFound)
		return
	}
	descriptor, capacity, err := leaseDisk(l.(*simulator.HttpNfcLease), parts[1])
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	f.stats.update(func() { f.stats.NfcUploads++ })
	body := &slowCountingReader{r: r.Body, fake: f, id: parts[0], lease: l.(*simulator.HttpNfcLease)}
	if err := writeStreamOptimized(body, descriptor, capacity); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// leaseDisk is the local descriptor path and the capacity of the disk a ready lease's URL names.
func leaseDisk(lease *simulator.HttpNfcLease, name string) (string, int64, error) {
	if lease.State != types.HttpNfcLeaseStateReady || lease.Info == nil {
		return "", 0, fmt.Errorf("the lease is %s, not ready", lease.State)
	}
	known := false
	for _, u := range lease.Info.DeviceUrl {
		known = known || (u.TargetId == name && u.Disk != nil && *u.Disk)
	}
	vm, ok := simulator.Map.Get(lease.Info.Entity).(*simulator.VirtualMachine)
	if !known || !ok {
		return "", 0, fmt.Errorf("the lease has no disk %q", name)
	}
	var file object.DatastorePath
	var capacity int64
	withLock(vm, func() {
		for _, d := range vm.Config.Hardware.Device {
			disk, ok := d.(*types.VirtualDisk)
			if !ok {
				continue
			}
			backing := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo()
			var p object.DatastorePath
			if p.FromString(backing.FileName) && path.Base(p.Path) == name {
				file, capacity = p, disk.CapacityInBytes
			}
		}
	})
	dir := datastoreDir(file.Datastore)
	if dir == "" {
		return "", 0, fmt.Errorf("VM %s has no disk %q", vm.Name, name)
	}
	return path.Join(dir, file.Path), capacity, nil
}

// slowCountingReader counts the body bytes received and, when the admin API asks for it, waits
// before each read of at most 64 KiB, so a test can act while an upload is under way.
type slowCountingReader struct {
	r     io.Reader
	fake  *fake
	id    string
	lease *simulator.HttpNfcLease
}

func (s *slowCountingReader) Read(b []byte) (int, error) {
	if why := s.fake.leases.expired(s.id, s.lease); why != "" {
		return 0, errors.New(why)
	}
	if delay := s.fake.nfcDelayMs.Load(); delay > 0 {
		time.Sleep(time.Duration(delay) * time.Millisecond)
		if len(b) > 64<<10 {
			b = b[:64<<10]
		}
	}
	n, err := s.r.Read(b)
	s.fake.stats.update(func() { s.fake.stats.NfcBytesReceived += int64(n) })
	return n, err
}

const sector = 512

// The streamOptimized header (VMware's Virtual Disk Format 5.0, SparseExtentHeader), packed.
type sparseHeader struct {
	MagicNumber        uint32
	Version            uint32
	Flags              uint32
	Capacity           uint64
	GrainSize          uint64
	DescriptorOffset   uint64
	DescriptorSize     uint64
	NumGTEsPerGT       uint32
	RgdOffset          uint64
	GdOffset           uint64
	OverHead           uint64
	UncleanShutdown    uint8
	SingleEndLineChar  uint8
	NonEndLineChar     uint8
	DoubleEndLineChar1 uint8
	DoubleEndLineChar2 uint8
	CompressAlgorithm  uint16
}

const (
	flagCompressed = 1 << 16
	flagMarkers    = 1 << 17
	markerEOS      = 0
	markerGT       = 1
	markerGD       = 2
	markerFooter   = 3
)

// writeStreamOptimized reads a streamOptimized VMDK from r and writes the disk at descriptor
// (a "vmfs" descriptor) and its "-flat.vmdk" extent, `capacity` bytes, sparse.
func writeStreamOptimized(r io.Reader, descriptor string, capacity int64) error {
	in := &position{r: r}
	head := make([]byte, sector)
	if err := in.full(head); err != nil {
		return fmt.Errorf("not a streamOptimized VMDK: %w", err)
	}
	var h sparseHeader
	_ = binary.Read(bytes.NewReader(head), binary.LittleEndian, &h)
	switch {
	case h.MagicNumber != 0x564d444b:
		return errors.New("not a VMDK: the upload does not start with the KDMV sparse header (an import lease takes a streamOptimized VMDK)")
	case h.Version != 3 || h.Flags&flagCompressed == 0 || h.Flags&flagMarkers == 0 || h.CompressAlgorithm != 1:
		return fmt.Errorf("not a streamOptimized VMDK (version %d, flags %#x, compression %d): an import lease takes only streamOptimized disks", h.Version, h.Flags, h.CompressAlgorithm)
	case h.GrainSize == 0 || h.GrainSize&(h.GrainSize-1) != 0:
		return fmt.Errorf("grain size %d is not a power of two", h.GrainSize)
	case int64(h.Capacity)*sector > capacity:
		return fmt.Errorf("the VMDK holds %d bytes, more than the %d bytes of the disk the import spec made", h.Capacity*sector, capacity)
	}
	// Skip the embedded descriptor and any other metadata before the first grain.
	if err := in.skip(int64(h.OverHead)*sector - in.at); err != nil {
		return err
	}
	flatPath := strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
	flat, err := os.Create(flatPath)
	if err != nil {
		return err
	}
	defer flat.Close()
	if err := flat.Truncate(capacity); err != nil {
		return err
	}
	grain := int64(h.GrainSize) * sector
	marker := make([]byte, sector)
	for {
		if err := in.full(marker[:12]); err != nil {
			return fmt.Errorf("the stream ends without its end-of-stream marker: %w", err)
		}
		lba := int64(binary.LittleEndian.Uint64(marker[0:8]))
		size := int64(binary.LittleEndian.Uint32(marker[8:12]))
		if size == 0 { // a metadata marker: a whole sector, then `lba` sectors of metadata
			if err := in.full(marker[12:]); err != nil {
				return err
			}
			kind := binary.LittleEndian.Uint32(marker[12:16])
			if kind == markerEOS {
				break
			}
			if kind != markerGT && kind != markerGD && kind != markerFooter {
				return fmt.Errorf("unknown marker type %d at offset %d", kind, in.at-sector)
			}
			if err := in.skip(lba * sector); err != nil {
				return err
			}
			continue
		}
		if lba%int64(h.GrainSize) != 0 || lba*sector >= int64(h.Capacity)*sector {
			return fmt.Errorf("a grain at sector %d is not grain-aligned or lies past the disk's end", lba)
		}
		compressed := make([]byte, size)
		if err := in.full(compressed); err != nil {
			return err
		}
		if err := in.skip((sector - (12+size)%sector) % sector); err != nil {
			return err
		}
		z, err := zlib.NewReader(bytes.NewReader(compressed))
		if err != nil {
			return fmt.Errorf("the grain at sector %d is not deflated: %w", lba, err)
		}
		data, err := io.ReadAll(io.LimitReader(z, grain+1))
		if err != nil || int64(len(data)) > grain || lba*sector+int64(len(data)) > int64(h.Capacity)*sector {
			return fmt.Errorf("the grain at sector %d is corrupt or larger than a grain", lba)
		}
		if !allZero(data) {
			if _, err := flat.WriteAt(data, lba*sector); err != nil {
				return err
			}
		}
	}
	// qemu-img pads its streams with zeros after the end-of-stream marker; a reader stops there.
	rest, err := io.ReadAll(in.r)
	if err != nil {
		return err
	}
	if !allZero(rest) {
		return fmt.Errorf("data follows the end-of-stream marker at offset %d", in.at-sector)
	}
	if err := flat.Sync(); err != nil {
		return err
	}
	text := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n"+
		"# Extent description\nRW %d VMFS \"%s\"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\nddb.thinProvisioned = \"1\"\n",
		capacity/sector, path.Base(flatPath))
	return os.WriteFile(descriptor, []byte(text), 0o644)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// position reads a stream and knows how far it is.
type position struct {
	r  io.Reader
	at int64
}

func (p *position) full(b []byte) error {
	n, err := io.ReadFull(p.r, b)
	p.at += int64(n)
	return err
}

func (p *position) skip(n int64) error {
	if n < 0 {
		return errors.New("the stream's metadata overlaps its grains")
	}
	m, err := io.CopyN(io.Discard, p.r, n)
	p.at += m
	return err
}
