// The one first-boot mechanism: everything that needs the running OS (installers, the VDA's own
// reconfiguration of ports and firewall, leaving the domain) becomes a step of one script the
// preparation puts in the guest. The script runs once, before logon, as SYSTEM / root; logs each
// step's exit code to a file in the guest; then removes itself and what it staged (the log and
// the change record stay), and restarts the machine when a step needs it.
//   Windows: \Windows\imageport\firstboot.cmd, started by HKLM\SYSTEM\Setup CmdLine with
//            SetupType 2 (Windows runs it once at the next boot, then clears SetupType).
//   Linux:   /var/lib/imageport/firstboot.sh, started by imageport-firstboot.service (a oneshot
//            systemd unit wanted by multi-user.target) that deletes itself.

export interface FirstBootStep {
  /** Short name, in the log: "install-pvs". */
  name: string;
  /** The command line (cmd.exe syntax on Windows, sh on Linux), already quoted. */
  command: string;
  /** The machine must restart after the script (installers, leaving the domain). */
  needsRestart: boolean;
}

export const WINDOWS_DIR = "/Windows/imageport";
export const WINDOWS_SCRIPT = `${WINDOWS_DIR}/firstboot.cmd`;
export const LINUX_DIR = "/var/lib/imageport";
export const LINUX_SCRIPT = `${LINUX_DIR}/firstboot.sh`;
export const LINUX_UNIT = "/etc/systemd/system/imageport-firstboot.service";
export const LINUX_UNIT_LINK = "/etc/systemd/system/multi-user.target.wants/imageport-firstboot.service";

/** The Windows script (CRLF lines, as cmd.exe expects). `previousCmdLine` is restored when it is done. */
export function windowsScript(steps: FirstBootStep[], previousCmdLine: string): string {
  const restart = steps.some((s) => s.needsRestart);
  const lines = [
    "@echo off",
    "rem imageport first boot: runs once before logon (HKLM\\SYSTEM\\Setup CmdLine, SetupType 2),",
    "rem logs each step's exit code, then removes itself and the staged installers.",
    "setlocal",
    "set IMAGEPORT=%SystemRoot%\\imageport",
    'set LOG="%IMAGEPORT%\\firstboot.log"',
    "echo %DATE% %TIME% first boot started >> %LOG%",
  ];
  steps.forEach((step, i) => {
    lines.push(`echo %DATE% %TIME% step ${i + 1} ${step.name}: starting >> %LOG%`);
    lines.push(`${step.command} >> %LOG% 2>&1`);
    lines.push(`echo %DATE% %TIME% step ${i + 1} ${step.name}: exit code %ERRORLEVEL% >> %LOG%`);
  });
  lines.push(
    `reg add "HKLM\\SYSTEM\\Setup" /v CmdLine /t REG_SZ /d "${previousCmdLine.replace(/"/g, '\\"')}" /f > nul`,
    'if exist "%IMAGEPORT%\\installers" rd /s /q "%IMAGEPORT%\\installers"',
    "echo %DATE% %TIME% first boot done >> %LOG%",
  );
  if (restart) lines.push('shutdown.exe /r /t 10 /c "imageport first boot: restarting after preparation"');
  // The script deletes itself last: (goto) leaves the batch context before del runs.
  lines.push('(goto) 2> nul & del "%~f0"');
  return lines.join("\r\n") + "\r\n";
}

export function linuxScript(steps: FirstBootStep[]): string {
  const restart = steps.some((s) => s.needsRestart);
  const lines = [
    "#!/bin/sh",
    "# imageport first boot: runs once (imageport-firstboot.service), logs each step's exit code,",
    "# then removes itself, its unit and the staged installers.",
    "LOG=/var/log/imageport-firstboot.log",
    `D=${LINUX_DIR}`,
    'log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >> "$LOG"; }',
    'step() { n=$1; shift; log "step $n: starting"; "$@" >> "$LOG" 2>&1; log "step $n: exit code $?"; }',
    'log "first boot started"',
  ];
  steps.forEach((step, i) => lines.push(`step ${i + 1}-${step.name} ${step.command}`));
  lines.push(
    `rm -f ${LINUX_UNIT_LINK} ${LINUX_UNIT}`,
    'rm -rf "$D/installers" "$D/firstboot.sh"',
    "systemctl daemon-reload",
    'log "first boot done"',
  );
  if (restart) lines.push("systemctl --no-block reboot");
  return lines.join("\n") + "\n";
}

export function linuxUnit(): string {
  return [
    "[Unit]",
    "Description=imageport first boot (runs once, then removes itself)",
    "Wants=network-online.target",
    "After=network-online.target",
    `ConditionPathExists=${LINUX_SCRIPT}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/bin/sh ${LINUX_SCRIPT}`,
    "RemainAfterExit=no",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Quotes one argument for cmd.exe (double quotes; a double quote inside is refused earlier by validation). */
export function cmdQuote(arg: string): string {
  return `"${arg}"`;
}

/** Quotes one argument for sh. */
export function shQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
