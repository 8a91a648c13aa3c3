// Part of vcsim-fake (a fake that extends vcsim where it lacks vSphere behaviour; as strict as
// VMware's docs): users, privileges and the per-method privilege checks.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type user struct {
	Password   string   `json:"password"`
	Privileges []string `json:"privileges"`
}

type auth struct {
	users map[string]user // nil: stock vcsim (any login, every privilege)
	known map[string]bool // every privilege vSphere defines (vcsim's Admin role)
}

// Every vSphere role holds these; a logged-in user always has them.
var implicit = []string{"System.Anonymous", "System.View", "System.Read"}

func newAuth(usersFile string) (*auth, error) {
	am := simulator.Map.AllReference("AuthorizationManager")[0].(*simulator.AuthorizationManager)
	roles := object.AuthorizationRoleList(am.RoleList)
	a := &auth{known: map[string]bool{}}
	for _, id := range roles.ByName("Admin").Privilege {
		a.known[id] = true
	}
	if usersFile == "" {
		return a, nil
	}
	data, err := os.ReadFile(usersFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &a.users); err != nil {
		return nil, fmt.Errorf("-users %s: %w", usersFile, err)
	}
	for name, u := range a.users {
		for _, id := range u.Privileges {
			if id != "*" && !a.known[id] {
				return nil, fmt.Errorf("-users %s: user %q: %q is not a vSphere privilege", usersFile, name, id)
			}
		}
	}
	return a, nil
}

func (a *auth) granted(userName, privilege string) bool {
	if !a.known[privilege] {
		return false
	}
	if a.users == nil {
		return true
	}
	u, ok := a.users[userName]
	if !ok {
		return false
	}
	for _, id := range append(u.Privileges, implicit...) {
		if id == "*" || id == privilege {
			return true
		}
	}
	return false
}

func (a *auth) privilegesOf(userName string) []string {
	var ids []string
	for id := range a.known {
		if a.granted(userName, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// validLogin is vcsim's SessionManager.ValidLogin: false makes Login answer InvalidLogin.
func (f *fake) validLogin(req *types.Login) bool {
	ok := req.UserName != "" && req.Password != ""
	if f.auth.users != nil {
		u, known := f.auth.users[req.UserName]
		ok = known && u.Password == req.Password
	}
	f.stats.login(ok)
	return ok
}

// route is vcsim's Map.Handler, called for every SOAP call before vcsim dispatches it: it
// counts the call, refuses what the caller's privileges do not allow, and hands the methods
// the fake adds to their wrappers.
func (f *fake) route(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	f.stats.call(m.Name)
	switch m.Name {
	case "Login":
		if ctx.Session != nil { // vcsim refuses a second login on a session
			f.stats.login(false)
		}
		return nil, nil
	case "LoginByToken", "LoginExtensionByCertificate", "LoginExtensionBySubjectName", "LoginBySSPI":
		if f.auth.users != nil { // only -users' passwords log in
			f.stats.login(false)
			return nil, new(types.InvalidLogin)
		}
	}
	if ctx.Session == nil {
		return nil, nil // vcsim answers NotAuthenticated
	}
	privileges, entity := required(ctx, m)
	for _, id := range privileges {
		if !f.auth.granted(ctx.Session.UserName, id) {
			return nil, &types.NoPermission{Object: &entity, PrivilegeId: id}
		}
	}
	switch {
	case m.This.Type == "VirtualMachine" && m.Name == "QueryChangedDiskAreas":
		if vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine); ok {
			return inSession(ctx, &cbtVM{VirtualMachine: vm, fake: f}), nil
		}
	case m.This.Type == "VirtualMachineSnapshot" && m.Name == "ExportSnapshot":
		if snapshot, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachineSnapshot); ok {
			return inSession(ctx, &exportSnapshot{VirtualMachineSnapshot: snapshot, fake: f}), nil
		}
	case m.This.Type == "VirtualMachineSnapshot" && m.Name == "RemoveSnapshot_Task":
		// vCenter blocks operations that alter a VM while an export lease on it is open.
		if snapshot, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachineSnapshot); ok && f.exports.openOn(snapshot.Vm) {
			return nil, &types.TaskInProgress{Task: snapshot.Vm}
		}
	case m.This.Type == "ResourcePool" && m.Name == "ImportVApp":
		if pool, ok := ctx.Map.Get(m.This).(*simulator.ResourcePool); ok {
			return inSession(ctx, &importPool{ResourcePool: pool, fake: f}), nil
		}
	case m.This.Type == "HttpNfcLease" && (m.Name == "HttpNfcLeaseComplete" || m.Name == "HttpNfcLeaseAbort"):
		f.leases.m.Delete(m.This.Value) // no more data for it
	case m.This.Type == "HttpNfcLease" && m.Name == "HttpNfcLeaseProgress":
		if _, open := f.leases.m.Load(m.This.Value); open {
			f.leases.alive(m.This.Value)
		}
	case m.This.Type == "AuthorizationManager":
		if am, ok := ctx.Map.Get(m.This).(*simulator.AuthorizationManager); ok {
			return inSession(ctx, &authzManager{AuthorizationManager: am, fake: f}), nil
		}
	}
	return nil, nil
}

// required names the privileges VMware's API reference lists for a method, and the entity
// they are checked on (a snapshot's VM for snapshot methods).
func required(ctx *simulator.Context, m *simulator.Method) ([]string, types.ManagedObjectReference) {
	switch m.Name {
	case "CreateSnapshot_Task":
		return []string{"VirtualMachine.State.CreateSnapshot"}, m.This
	case "RemoveAllSnapshots_Task":
		return []string{"VirtualMachine.State.RemoveSnapshot"}, m.This
	case "RevertToCurrentSnapshot_Task":
		return []string{"VirtualMachine.State.RevertToSnapshot"}, m.This
	case "QueryChangedDiskAreas":
		return []string{"VirtualMachine.Provisioning.DiskRandomRead"}, m.This
	case "RemoveSnapshot_Task", "RevertToSnapshot_Task", "RenameSnapshot", "ExportSnapshot":
		snapshot, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachineSnapshot)
		if !ok {
			return nil, m.This // vcsim answers ManagedObjectNotFound
		}
		id := map[string]string{
			"RemoveSnapshot_Task":   "VirtualMachine.State.RemoveSnapshot",
			"RevertToSnapshot_Task": "VirtualMachine.State.RevertToSnapshot",
			"RenameSnapshot":        "VirtualMachine.State.RenameSnapshot",
			"ExportSnapshot":        "VApp.Export",
		}[m.Name]
		return []string{id}, snapshot.Vm
	case "ReconfigVM_Task":
		// ReconfigVM's privileges depend on what the spec changes: changeTrackingEnabled needs
		// VirtualMachine.Config.ChangeTracking; anything else is held to VirtualMachine.Config.Settings.
		spec := m.Body.(*types.ReconfigVM_Task).Spec
		var ids []string
		if spec.ChangeTrackingEnabled != nil {
			ids = append(ids, "VirtualMachine.Config.ChangeTracking")
			spec.ChangeTrackingEnabled = nil
		}
		if !reflect.DeepEqual(spec, types.VirtualMachineConfigSpec{}) {
			ids = append(ids, "VirtualMachine.Config.Settings")
		}
		return ids, m.This
	case "ImportVApp":
		// On the pool; the folder's VApp.Import and the datastore's Datastore.AllocateSpace are
		// checked by importPool, which knows them.
		return []string{"VApp.Import", "Resource.AssignVMToPool"}, m.This
	case "CreateVM_Task":
		return []string{"VirtualMachine.Inventory.Create", "Resource.AssignVMToPool"}, m.This
	case "Destroy_Task":
		if m.This.Type == "VirtualMachine" {
			return []string{"VirtualMachine.Inventory.Delete"}, m.This
		}
	case "ExportVm":
		return []string{"VApp.Export"}, m.This
	case "ImpersonateUser":
		return []string{"Sessions.ImpersonateUser"}, m.This
	}
	return nil, m.This
}

// authzManager answers privilege questions from the users' privileges (vcsim says yes to all).
type authzManager struct {
	*simulator.AuthorizationManager
	fake *fake
}

func (a *authzManager) HasPrivilegeOnEntity(ctx *simulator.Context, req *types.HasPrivilegeOnEntity) soap.HasFault {
	userName, _ := sessionUser(req.SessionId)
	return &hasPrivilegeOnEntityBody{Res: &HasPrivilegeOnEntityResponse{Returnval: a.check(userName, req.PrivId)}}
}

// HasPrivilegeOnEntityResponse lists one boolean per privilege asked. govmomi's type tags the
// []bool omitempty and its encoder then drops every false item, which real vSphere never does.
type HasPrivilegeOnEntityResponse struct {
	Returnval []bool `xml:"returnval"`
}

type hasPrivilegeOnEntityBody struct {
	Res *HasPrivilegeOnEntityResponse
}

func (b *hasPrivilegeOnEntityBody) Fault() *soap.Fault { return nil }

func (a *authzManager) HasPrivilegeOnEntities(ctx *simulator.Context, req *types.HasPrivilegeOnEntities) soap.HasFault {
	userName, _ := sessionUser(req.SessionId)
	return &methods.HasPrivilegeOnEntitiesBody{Res: &types.HasPrivilegeOnEntitiesResponse{Returnval: a.each(req.Entity, userName, req.PrivId)}}
}

func (a *authzManager) HasUserPrivilegeOnEntities(ctx *simulator.Context, req *types.HasUserPrivilegeOnEntities) soap.HasFault {
	return &methods.HasUserPrivilegeOnEntitiesBody{Res: &types.HasUserPrivilegeOnEntitiesResponse{Returnval: a.each(req.Entities, req.UserName, req.PrivId)}}
}

func (a *authzManager) FetchUserPrivilegeOnEntities(ctx *simulator.Context, req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	var res []types.UserPrivilegeResult
	for _, e := range req.Entities {
		res = append(res, types.UserPrivilegeResult{Entity: e, Privileges: a.fake.auth.privilegesOf(req.UserName)})
	}
	return &methods.FetchUserPrivilegeOnEntitiesBody{Res: &types.FetchUserPrivilegeOnEntitiesResponse{Returnval: res}}
}

func (a *authzManager) check(userName string, ids []string) []bool {
	res := make([]bool, len(ids))
	for i, id := range ids {
		res[i] = a.fake.auth.granted(userName, id)
	}
	return res
}

func (a *authzManager) each(entities []types.ManagedObjectReference, userName string, ids []string) []types.EntityPrivilege {
	var res []types.EntityPrivilege
	for _, e := range entities {
		p := types.EntityPrivilege{Entity: e}
		for i, ok := range a.check(userName, ids) {
			p.PrivAvailability = append(p.PrivAvailability, types.PrivilegeAvailability{PrivId: ids[i], IsGranted: ok})
		}
		res = append(res, p)
	}
	return res
}

// sessionUser is the user logged in with that session key. vcsim keeps its sessions private,
// but a session's view of the SessionManager lists them all.
func sessionUser(key string) (string, bool) {
	view := (&simulator.Session{Registry: simulator.NewRegistry()}).Get(simulator.Map.SessionManager().Reference())
	for _, s := range view.(*simulator.SessionManager).SessionList {
		if s.Key == key {
			return s.UserName, true
		}
	}
	return "", false
}
