using System.Management.Automation.Runspaces;
using DumpShell.Cli;

// dumpshell: imports the DumpShell module into a hosted PowerShell and runs one command string or one script file.
// A launcher, not a shell: no prompt, no profile, no REPL.

// The name to show in messages: the app host's file name ("DumpShell.Cli"), or "dotnet DumpShell.Cli.dll".
string exe = Path.GetFileName(Environment.ProcessPath ?? "dotnet");
if (exe.EndsWith(".exe", StringComparison.OrdinalIgnoreCase))
    exe = exe[..^4];
string self = exe.Equals("dotnet", StringComparison.OrdinalIgnoreCase)
    ? "dotnet " + Path.GetFileName(typeof(ModuleSession).Assembly.Location)
    : exe;

string usage = $"""
    Usage:
      {self} [-Module <DumpShell.psd1>] [-Width <columns>] -Command <script> [more script words...]
      {self} [-Module <DumpShell.psd1>] [-Width <columns>] <script.ps1> [script arguments...]

    Options:
      -Command, -c <script>   Run a PowerShell command string; any words after it are joined with spaces.
      -Module, -m <path>      The module manifest to import. Default: DumpShell.psd1 beside this program
                              or in the nearest folder above it.
      -Width, -w <columns>    Width for rendered tables. Default: the console's, or 120 when output is redirected.
      -Help, -h, --help, -?   Show this text.

    Each top-level statement's output is rendered with its default view (Out-Default). Only the module's
    cmdlets and PowerShell's core cmdlets (Where-Object, ForEach-Object, Get-Command, ...) are available.

    Exit codes: 0 success; 1 an error record was written; 2 a parse error, a terminating error or bad usage;
    N for 'exit N'; 130 stopped by Ctrl+C.

    Examples:
      {self} -c 'Get-Command -Module DumpShell'
      {self} ./triage.ps1 -Path crash.dmp
    """;

string? module = null, command = null, file = null;
int? width = null;
var fileArgs = new List<string>();

for (int i = 0; i < args.Length; i++)
{
    string arg = args[i];
    string option = arg.StartsWith("--", StringComparison.Ordinal) ? arg[1..] : arg;
    switch (option.ToLowerInvariant())
    {
        case "-h" or "-help" or "-?" or "/?":
            Console.Out.WriteLine(usage);
            return ModuleSession.ExitSuccess;
        case "-m" or "-module" when i + 1 < args.Length:
            module = args[++i];
            break;
        case "-w" or "-width" when i + 1 < args.Length:
            if (!int.TryParse(args[++i], out int w) || w < 1)
                return UsageError($"-Width needs a positive number of columns, not '{args[i]}'.");
            width = w;
            break;
        case "-c" or "-command" when i + 1 < args.Length:
            command = string.Join(' ', args[(i + 1)..]);
            i = args.Length;
            break;
        default:
            if (arg.StartsWith('-') && arg.Length > 1)
                return UsageError($"Unknown option or missing value: '{arg}'.");
            file = arg;
            fileArgs.AddRange(args[(i + 1)..]);
            i = args.Length;
            break;
    }
}

if (command is null && file is null)
    return UsageError(null);

if (file is not null && !File.Exists(file))
    return UsageError($"The script file '{file}' does not exist. To run a command, use -Command.");

module ??= ModuleSession.FindManifest();
if (module is null)
    return UsageError($"{ModuleSession.ManifestFileName} was not found beside {AppContext.BaseDirectory} or above it; give its path with -Module.");
if (!File.Exists(module))
    return UsageError($"The module manifest '{module}' does not exist.");

TextHost host = TextHost.ForConsole();
if (width is not null)
    host.Width = width.Value;

ModuleSession session;
try
{
    session = new ModuleSession(module, host);
}
catch (RunspaceOpenModuleLoadException e)
{
    Console.Error.WriteLine($"{self}: cannot import {module}:");
    foreach (var error in e.ErrorRecords)
        Console.Error.WriteLine("  " + TextHost.StripAnsi(error.ToString()));
    if (e.ErrorRecords.Count == 0)
        Console.Error.WriteLine("  " + e.Message);
    return ModuleSession.ExitTerminated;
}

using (session)
{
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        session.Stop();
    };
    int exitCode = command is not null ? session.Run(command) : session.RunFile(file!, fileArgs);
    Console.Out.Flush();
    Console.Error.Flush();
    return exitCode;
}

int UsageError(string? message)
{
    if (message is null)
        Console.Error.WriteLine(usage);
    else
        Console.Error.WriteLine($"{self}: {message}{Environment.NewLine}Run '{self} -Help' for usage.");
    return ModuleSession.ExitTerminated;
}
