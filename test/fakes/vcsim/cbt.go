// Part of vcsim-fake (a fake that extends vcsim where it lacks vSphere behaviour; as strict as
// VMware's docs): change block tracking. With config.changeTrackingEnabled on, each snapshot gives
// its disks a fresh changeId ("52 xx .. xx-xx .. xx/<seq>") and records, per 64 KiB block of the
// disk's allocated areas, a sha256; QueryChangedDiskAreas answers from those records.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const blockSize = 64 << 10

// diskState is a disk as it was when a changeId was issued.
type diskState struct {
	vm        types.ManagedObjectReference
	deviceKey int32
	capacity  int64
	blocks    map[int64][32]byte // allocated 64 KiB blocks -> sha256 of their bytes
	err       error              // the disk could not be read then
}

// cbt is a vcsim registry handler: it sees every snapshot vcsim creates.
type cbt struct {
	mu     sync.Mutex
	issued map[string]*diskState // changeId -> the disk then
	epochs map[string]string     // "vm/deviceKey" -> the uuid part of its changeIds
	seq    map[string]int
}

func newCBT() *cbt {
	return &cbt{issued: map[string]*diskState{}, epochs: map[string]string{}, seq: map[string]int{}}
}

func (c *cbt) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "ImageportFakeCBT", Value: "cbt"}
}
func (c *cbt) UpdateObject(*simulator.Context, mo.Reference, []types.PropertyChange) {}
func (c *cbt) RemoveObject(*simulator.Context, types.ManagedObjectReference)         {}

// PutObject runs inside CreateSnapshot_Task (holding the VM's lock) once the snapshot exists.
// vcsim copies the VM's config into the snapshot shallowly, so the disks are copied here: the
// snapshot's disks keep their files, sizes and changeIds while the VM's change.
func (c *cbt) PutObject(obj mo.Reference) {
	snapshot, ok := obj.(*simulator.VirtualMachineSnapshot)
	if !ok {
		return
	}
	vm, ok := simulator.Map.Get(snapshot.Vm).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	tracking := vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
	devices := make([]types.BaseVirtualDevice, len(snapshot.Config.Hardware.Device))
	for i, d := range snapshot.Config.Hardware.Device {
		devices[i] = d
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok {
			continue
		}
		frozen, frozenBacking := *disk, *backing
		frozen.Backing = &frozenBacking
		devices[i] = &frozen
		if tracking {
			state := readDisk(backing.FileName, capacityOf(disk))
			state.vm, state.deviceKey = vm.Self, disk.Key
			frozenBacking.ChangeId = c.issue(state)
			backing.ChangeId = frozenBacking.ChangeId // the VM's current disk starts from here
		}
	}
	snapshot.Config.Hardware.Device = devices
}

// issue records the state under a new changeId in VMware's form.
func (c *cbt) issue(state *diskState) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	disk := fmt.Sprintf("%s/%d", state.vm.Value, state.deviceKey)
	if c.epochs[disk] == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		b[0] = 0x52
		hex := make([]string, 16)
		for i := range b {
			hex[i] = fmt.Sprintf("%02x", b[i])
		}
		c.epochs[disk] = strings.Join(hex[:8], " ") + "-" + strings.Join(hex[8:], " ")
	}
	c.seq[disk]++
	id := fmt.Sprintf("%s/%d", c.epochs[disk], c.seq[disk])
	c.issued[id] = state
	return id
}

func (c *cbt) lookup(changeId string) *diskState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issued[changeId]
}

var changeIdForm = regexp.MustCompile(`^52( [0-9a-f]{2}){7}-[0-9a-f]{2}( [0-9a-f]{2}){7}/[0-9]+$`)

// cbtVM carries the VirtualMachine method vcsim lacks.
type cbtVM struct {
	*simulator.VirtualMachine
	fake *fake
}

func (vm *cbtVM) QueryChangedDiskAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := new(methods.QueryChangedDiskAreasBody)
	info, fault := vm.changedAreas(ctx, req)
	if fault != nil {
		body.Fault_ = fault
	} else {
		body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	}
	return body
}

// changedAreas follows VMware's API reference: the snapshot must be this VM's (without one,
// the VM must be powered off), the disk must be in that configuration, change tracking must be
// on and have been on when the snapshot was taken, startOffset must lie inside the disk, and
// changeId must be "*" or one issued for this disk.
func (vm *cbtVM) changedAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, *soap.Fault) {
	config := vm.Config
	if req.Snapshot != nil {
		snapshot, ok := ctx.Map.Get(*req.Snapshot).(*simulator.VirtualMachineSnapshot)
		if !ok {
			return nil, simulator.Fault("snapshot not found", &types.ManagedObjectNotFound{Obj: *req.Snapshot})
		}
		if snapshot.Vm != vm.Self {
			return nil, simulator.Fault(fmt.Sprintf("snapshot %s is not a snapshot of %s", snapshot.Self.Value, vm.Name), &types.NotFound{})
		}
		config = &snapshot.Config
	}
	disk := findDisk(config, req.DeviceKey)
	if disk == nil {
		return nil, simulator.Fault(fmt.Sprintf("no virtual disk with key %d", req.DeviceKey), &types.NotFound{})
	}
	backing := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	fileFault := func(file, msg string) (*types.DiskChangeInfo, *soap.Fault) {
		return nil, simulator.Fault(msg, &types.FileFault{File: file})
	}
	if req.Snapshot == nil && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		return fileFault(backing.FileName, "the disk of a running VM is locked: pass a snapshot (the current state only works for a powered-off VM)")
	}
	ctk := strings.TrimSuffix(backing.FileName, ".vmdk") + "-ctk.vmdk"
	if vm.Config.ChangeTrackingEnabled == nil || !*vm.Config.ChangeTrackingEnabled {
		return fileFault(ctk, "change tracking is not enabled on "+vm.Name)
	}
	if backing.ChangeId == "" {
		return fileFault(ctk, "change tracking was not on when the snapshot was taken")
	}
	target := vm.fake.cbt.lookup(backing.ChangeId)
	if req.Snapshot == nil {
		target = readDisk(backing.FileName, capacityOf(disk))
	}
	if target.err != nil {
		return fileFault(backing.FileName, target.err.Error())
	}
	if req.StartOffset < 0 || req.StartOffset >= target.capacity {
		return nil, simulator.Fault(fmt.Sprintf("startOffset %d is outside the disk (%d bytes)", req.StartOffset, target.capacity), &types.InvalidArgument{InvalidProperty: "startOffset"})
	}
	var blocks []int64
	if req.ChangeId == "*" {
		for b := range target.blocks {
			blocks = append(blocks, b)
		}
	} else {
		base := vm.fake.cbt.lookup(req.ChangeId)
		if !changeIdForm.MatchString(req.ChangeId) || base == nil || base.vm != vm.Self || base.deviceKey != disk.Key || base.err != nil {
			return nil, simulator.Fault("A specified parameter was not correct: changeId", &types.InvalidArgument{InvalidProperty: "changeId"})
		}
		blocks = changed(base, target)
	}
	info := page(areas(blocks, target.capacity), req.StartOffset, target.capacity, vm.fake.maxAreas)
	return &info, nil
}

func findDisk(config *types.VirtualMachineConfigInfo, key int32) *types.VirtualDisk {
	for _, d := range config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok && disk.Key == key {
			if _, flat := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); flat {
				return disk
			}
		}
	}
	return nil
}

func capacityOf(disk *types.VirtualDisk) int64 {
	if disk.CapacityInBytes > 0 {
		return disk.CapacityInBytes
	}
	return disk.CapacityInKB * 1024
}

// changed lists the blocks that differ between two states, or are allocated in only one.
func changed(base, target *diskState) []int64 {
	var blocks []int64
	for b, sum := range target.blocks {
		if old, ok := base.blocks[b]; !ok || old != sum {
			blocks = append(blocks, b)
		}
	}
	for b := range base.blocks {
		if _, ok := target.blocks[b]; !ok && b*blockSize < target.capacity {
			blocks = append(blocks, b)
		}
	}
	return blocks
}

// areas merges blocks into extents, the last one cut at the disk's end.
func areas(blocks []int64, capacity int64) []types.DiskChangeExtent {
	sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
	var out []types.DiskChangeExtent
	for _, b := range blocks {
		start, end := b*blockSize, min((b+1)*blockSize, capacity)
		if n := len(out); n > 0 && out[n-1].Start+out[n-1].Length == start {
			out[n-1].Length = end - out[n-1].Start
			continue
		}
		out = append(out, types.DiskChangeExtent{Start: start, Length: end - start})
	}
	return out
}

// page answers at most max areas from start on; when more remain, the answer's span ends where
// its last area ends and the caller continues from startOffset+length, as with real vSphere.
func page(all []types.DiskChangeExtent, start, capacity int64, max int) types.DiskChangeInfo {
	info := types.DiskChangeInfo{StartOffset: start, Length: capacity - start}
	for _, a := range all {
		end := a.Start + a.Length
		if end <= start {
			continue
		}
		if len(info.ChangedArea) == max {
			last := info.ChangedArea[max-1]
			info.Length = last.Start + last.Length - start
			break
		}
		if a.Start < start {
			a = types.DiskChangeExtent{Start: start, Length: end - start}
		}
		info.ChangedArea = append(info.ChangedArea, a)
	}
	return info
}

// extent is the one flat extent a monolithicFlat VMDK descriptor names.
type extent struct {
	path   string
	offset int64 // where the disk starts in the file
	size   int64
}

var extentLine = regexp.MustCompile(`(?m)^\s*(?:RW|RDONLY|NOACCESS)\s+(\d+)\s+(?:FLAT|VMFS)\s+"([^"]+)"(?:\s+(\d+))?\s*$`)

// flatExtent reads the descriptor "[datastore] dir/x.vmdk", which names "x-flat.vmdk".
func flatExtent(fileName string) (*extent, error) {
	var p object.DatastorePath
	if !p.FromString(fileName) {
		return nil, fmt.Errorf("%q is not a datastore path like \"[LocalDS_0] vm/disk.vmdk\"", fileName)
	}
	dir := datastoreDir(p.Datastore)
	if dir == "" {
		return nil, fmt.Errorf("%s: no datastore %q", fileName, p.Datastore)
	}
	descriptor := filepath.Join(dir, p.Path)
	f, err := os.Open(descriptor)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(head, []byte("KDMV")) || !bytes.Contains(head, []byte("# Disk DescriptorFile")) {
		return nil, fmt.Errorf("%s is not a VMDK descriptor (the fake reads monolithicFlat disks)", fileName)
	}
	lines := extentLine.FindAllSubmatch(head, -1)
	if len(lines) != 1 {
		return nil, fmt.Errorf("%s names %d flat extents; the fake reads exactly one", fileName, len(lines))
	}
	sectors, _ := strconv.ParseInt(string(lines[0][1]), 10, 64)
	offset, _ := strconv.ParseInt(string(lines[0][3]), 10, 64)
	path := filepath.Join(filepath.Dir(descriptor), string(lines[0][2]))
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return &extent{path: path, offset: offset * 512, size: sectors * 512}, nil
}

const seekData, seekHole = 3, 4 // lseek(2) SEEK_DATA, SEEK_HOLE

// readDisk finds the allocated areas of the disk's flat extent with SEEK_DATA/SEEK_HOLE and
// hashes each 64 KiB block they touch. (Unwritten extents, as fallocate leaves them, count as
// data only while the page cache holds them; qemu-img and /folder PUT write none.)
func readDisk(fileName string, capacity int64) *diskState {
	state := &diskState{capacity: capacity, blocks: map[int64][32]byte{}}
	ext, err := flatExtent(fileName)
	if err != nil {
		state.err = err
		return state
	}
	f, err := os.Open(ext.path)
	if err != nil {
		state.err = err
		return state
	}
	defer f.Close()
	end := min(capacity, ext.size)
	buf := make([]byte, blockSize)
	for pos := int64(0); pos < end; {
		data, err := f.Seek(ext.offset+pos, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break // no data after pos
		}
		if err != nil {
			state.err = err
			return state
		}
		hole, err := f.Seek(data, seekHole)
		if err != nil {
			state.err = err
			return state
		}
		data, hole = data-ext.offset, min(hole-ext.offset, end)
		for b := data / blockSize; b*blockSize < hole; b++ {
			n, err := f.ReadAt(buf, ext.offset+b*blockSize)
			if err != nil && err != io.EOF {
				state.err = err
				return state
			}
			clear(buf[min(int64(n), end-b*blockSize):]) // past the file or the disk's end: zeros
			state.blocks[b] = sha256.Sum256(buf)
		}
		pos = max(hole, data+1)
	}
	return state
}
