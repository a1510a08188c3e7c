// The page's one job: tell the shell it has rendered, as Harbour's first screen does.
const status = document.getElementById('status');
window.__TAURI__.core.invoke('ui_ready', { screen: 'minimal' }).then(
  () => { status.textContent = 'Ready'; },
  (error) => { status.textContent = `ui_ready failed: ${error}`; },
);
