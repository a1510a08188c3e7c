// The page's one job: tell the shell once its page has been painted, as Harbour's first screen
// does (the task after the next animation frame runs after that frame's paint).
const status = document.getElementById('status');

function ready() {
  window.__TAURI__.core.invoke('ui_ready', { screen: 'minimal' }).then(
    () => { status.textContent = 'Ready'; },
    (error) => { status.textContent = `ui_ready failed: ${error}`; },
  );
}

requestAnimationFrame(() => setTimeout(ready, 0));
