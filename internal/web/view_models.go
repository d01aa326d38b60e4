package web

import "github.com/heraproject/hera/internal/web/view"

// The page models live with the components that render them.
type (
	FlowPage          = view.FlowPage
	Alert             = view.Alert
	Link              = view.Link
	ClientView        = view.ClientView
	Script            = view.Script
	Form              = view.Form
	Item              = view.Item
	SelectOption      = view.SelectOption
	page              = view.Page
	Brand             = view.Brand
	LangOption        = view.LangOption
	ErrorView         = view.ErrorView
	WelcomeView       = view.WelcomeView
	SessionsView      = view.SessionsView
	SessionView       = view.SessionView
	ConsentView       = view.ConsentView
	ScopeView         = view.ScopeView
	LogoutView        = view.LogoutView
	AppsView          = view.AppsView
	AppView           = view.AppView
	DeleteAccountView = view.DeleteAccountView
)
