using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;

namespace DumpShell.Cli;

/// <summary>
/// One PowerShell runspace with the DumpShell module imported, writing to a <see cref="TextHost"/>.
/// Used by the launcher (<see cref="Run"/>, <see cref="RunFile"/>) and by tests (<see cref="Invoke"/>, <see cref="Render"/>).
/// </summary>
/// <remarks>
/// Not thread-safe: a runspace runs one pipeline at a time. Create one session per test class (or per test).
/// Only the Microsoft.PowerShell.Core cmdlets exist besides the module's own (no Select-Object, Format-*, ...).
/// </remarks>
public sealed class ModuleSession : IDisposable
{
    /// <summary>The manifest's file name.</summary>
    public const string ManifestFileName = "DumpShell.psd1";

    /// <summary>Exit code when no error record was written.</summary>
    public const int ExitSuccess = 0;

    /// <summary>Exit code when at least one (non-terminating) error record was written.</summary>
    public const int ExitErrors = 1;

    /// <summary>Exit code on a parse error, a terminating error, or bad launcher usage.</summary>
    public const int ExitTerminated = 2;

    /// <summary>Exit code when the run was stopped (Ctrl+C).</summary>
    public const int ExitStopped = 130;

    private readonly object _gate = new();
    private PowerShell? _current;
    private volatile bool _stopRequested;

    /// <summary>
    /// Opens a runspace with <paramref name="manifestPath"/> imported.
    /// </summary>
    /// <param name="manifestPath">Path to DumpShell.psd1 (or any module manifest/file for a stand-in).</param>
    /// <param name="host">Where output goes; null means a <see cref="TextHost"/> over a <see cref="StringWriter"/>
    /// (read it back through <c>Host.Output</c>).</param>
    /// <exception cref="RunspaceOpenModuleLoadException">The module failed to import.</exception>
    public ModuleSession(string manifestPath, TextHost? host = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(manifestPath);
        ConfigureProcessEnvironment();

        ManifestPath = Path.GetFullPath(manifestPath);
        if (!File.Exists(ManifestPath))
            throw new FileNotFoundException($"Module manifest not found: {ManifestPath}", ManifestPath);

        Host = host ?? new TextHost(new StringWriter());

        var iss = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows())
            iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass; // throws at Open() elsewhere
        iss.ImportPSModule(ManifestPath);

        Runspace = RunspaceFactory.CreateRunspace(Host, iss);
        try
        {
            Runspace.Open();
        }
        catch
        {
            Runspace.Dispose();
            throw;
        }
    }

    /// <summary>Opens a session on the manifest found by <see cref="FindManifest"/> from <see cref="AppContext.BaseDirectory"/>.</summary>
    /// <exception cref="FileNotFoundException">No DumpShell.psd1 in that folder or any folder above it.</exception>
    public static ModuleSession Open(TextHost? host = null)
    {
        string manifest = FindManifest() ?? throw new FileNotFoundException(
            $"{ManifestFileName} was not found in {AppContext.BaseDirectory} or any folder above it.", ManifestFileName);
        return new ModuleSession(manifest, host);
    }

    /// <summary>The host every invocation writes to.</summary>
    public TextHost Host { get; }

    /// <summary>The open runspace (for anything the helpers here do not cover).</summary>
    public Runspace Runspace { get; }

    /// <summary>The full path of the imported manifest.</summary>
    public string ManifestPath { get; }

    /// <summary>
    /// Finds DumpShell.psd1 in <paramref name="startDirectory"/> (default <see cref="AppContext.BaseDirectory"/>)
    /// or the nearest folder above it that has one. Returns null if there is none.
    /// </summary>
    public static string? FindManifest(string? startDirectory = null)
    {
        for (var dir = new DirectoryInfo(startDirectory ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, ManifestFileName);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>
    /// Sets what keeps PowerShell from phoning home or leaving files outside the caller's folders:
    /// POWERSHELL_TELEMETRY_OPTOUT=1 (no ~/.cache/powershell/telemetry.uuid) and POWERSHELL_DIAGNOSTICS_OPTOUT=1
    /// (no Enter-PSHostProcess named-pipe listener, which leaves a CoreFxPipe_PSHost.* socket in the temp folder
    /// on Unix). The constructor calls it without <paramref name="stateDirectory"/>.
    /// </summary>
    /// <param name="stateDirectory">
    /// For tests and CI, off Windows: a folder (e.g. under artifacts/) to hold what would otherwise go to the home
    /// folder. Sets XDG_CACHE_HOME, XDG_DATA_HOME and XDG_CONFIG_HOME below it, which moves PowerShell's
    /// ~/.cache/powershell and ~/.local/share/powershell/Modules (created, empty, by every runspace), its user
    /// configuration, and whatever uses LocalApplicationData in this process (ClrMD's symbol cache). Ignored on
    /// Windows. Must be called before the first runspace in the process: PowerShell reads these once.
    /// </param>
    public static void ConfigureProcessEnvironment(string? stateDirectory = null)
    {
        Environment.SetEnvironmentVariable("POWERSHELL_TELEMETRY_OPTOUT", "1");
        Environment.SetEnvironmentVariable("POWERSHELL_DIAGNOSTICS_OPTOUT", "1");
        if (stateDirectory is null || OperatingSystem.IsWindows())
            return;
        string root = Path.GetFullPath(stateDirectory);
        foreach ((string variable, string folder) in new[] { ("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config") })
        {
            string path = Path.Combine(root, folder);
            Directory.CreateDirectory(path);
            Environment.SetEnvironmentVariable(variable, path);
        }
    }

    /// <summary>Sets a global variable, e.g. a dump path that a later script uses as <c>$name</c>.</summary>
    public void SetVariable(string name, object? value) => Runspace.SessionStateProxy.SetVariable(name, value);

    /// <summary>Gets a global variable's value (the base object), or null.</summary>
    public object? GetVariable(string name)
    {
        object? value = Runspace.SessionStateProxy.GetVariable(name);
        return value is PSObject wrapped ? wrapped.BaseObject : value;
    }

    /// <summary>Sets PowerShell's current location, against which cmdlets resolve relative paths.</summary>
    public void SetLocation(string path) => Runspace.SessionStateProxy.Path.SetLocation(path);

    /// <summary>
    /// Runs <paramref name="script"/> and returns its output objects and the error records it wrote; nothing is rendered
    /// (the host still receives Write-Host, warnings, verbose lines). Arguments bind to the script's param() or $args.
    /// </summary>
    /// <exception cref="ParseException">The script does not parse.</exception>
    /// <exception cref="RuntimeException">A terminating error (throw, -ErrorAction Stop, ThrowTerminatingError).</exception>
    public ScriptResult Invoke(string script, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(script);
        using var ps = PowerShell.Create(Runspace);
        ps.AddScript(script);
        foreach (object? arg in args ?? [])
            ps.AddArgument(arg);
        Collection<PSObject> output = Execute(ps);
        return new ScriptResult(output, [.. ps.Streams.Error], [.. ps.Streams.Warning.Select(w => w.Message)]);
    }

    /// <summary>
    /// Runs <paramref name="script"/> as the launcher does (each top-level statement's output through Out-Default)
    /// and returns the rendered text: views, non-terminating errors as pwsh prints them, warnings. Deterministic for a
    /// given <see cref="TextHost.Width"/>.
    /// </summary>
    /// <exception cref="ParseException">The script does not parse.</exception>
    /// <exception cref="RuntimeException">A terminating error; the text rendered before it is lost.</exception>
    public string Render(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        Host.Reset();
        var capture = new StringWriter();
        TextWriter output = Host.Output, error = Host.Error;
        Host.Output = capture;
        Host.Error = capture;
        try
        {
            ScriptBlockAst ast = ParseOrThrow(script);
            foreach (string unit in SplitStatements(script, ast))
            {
                using var ps = PowerShell.Create(Runspace);
                AddRendered(ps, unit);
                Execute(ps);
                if (Host.ExitCode is not null)
                    break;
            }
            return capture.ToString();
        }
        finally
        {
            Host.Output = output;
            Host.Error = error;
        }
    }

    /// <summary>
    /// The launcher's -Command: runs <paramref name="script"/>, rendering each top-level statement's output through
    /// Out-Default and every error (parse, non-terminating, terminating) through the host as pwsh prints it.
    /// Returns 0 if no error was written, 1 if any error record was, 2 on a parse error or a terminating error,
    /// N for <c>exit N</c>, 130 if stopped by <see cref="Stop"/>.
    /// </summary>
    public int Run(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        Host.Reset();
        _stopRequested = false;
        ScriptBlockAst ast = Parser.ParseInput(script, out _, out ParseError[] parseErrors);
        if (parseErrors.Length > 0)
        {
            WriteError(new ParseException(parseErrors));
            return ExitTerminated;
        }

        foreach (string unit in SplitStatements(script, ast))
        {
            if (_stopRequested)
                return ExitStopped;
            using var ps = PowerShell.Create(Runspace);
            AddRendered(ps, unit);
            int? code = RunRendered(ps);
            if (code is not null)
                return code.Value;
        }
        return Host.ErrorLineCount > 0 ? ExitErrors : ExitSuccess;
    }

    /// <summary>
    /// The launcher's script-file mode, like <c>pwsh -File</c>: runs <paramref name="path"/> with <paramref name="args"/>
    /// ("-Name value", "-Name:value", "-Switch" and positional strings, bound as pwsh binds them) and renders its output.
    /// Exit codes as <see cref="Run"/>; <c>exit N</c> in the script gives N.
    /// </summary>
    public int RunFile(string path, IReadOnlyList<string> args)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(args);
        Host.Reset();
        _stopRequested = false;
        string fullPath = Path.GetFullPath(path);

        Parser.ParseFile(fullPath, out _, out ParseError[] parseErrors);
        if (parseErrors.Length > 0)
        {
            WriteError(new ParseException(parseErrors));
            return ExitTerminated;
        }

        // `exit N` in a script file sets $LASTEXITCODE and returns to the caller (SetShouldExit is not called).
        Runspace.SessionStateProxy.SetVariable("global:LASTEXITCODE", null);

        using var ps = PowerShell.Create(Runspace);
        var command = new Command(fullPath, isScript: false, useLocalScope: true);
        foreach (CommandParameter parameter in BindFileArguments(args))
            command.Parameters.Add(parameter);
        command.MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
        ps.Commands.AddCommand(command);
        ps.AddCommand("Out-Default");

        int? code = RunRendered(ps);
        if (code is not null)
            return code.Value;
        if (Runspace.SessionStateProxy.GetVariable("global:LASTEXITCODE") is int lastExitCode)
            return lastExitCode;
        return Host.ErrorLineCount > 0 ? ExitErrors : ExitSuccess;
    }

    /// <summary>Asks the running pipeline, if any, to stop (for Ctrl+C). Safe from any thread.</summary>
    public void Stop()
    {
        PowerShell? current;
        lock (_gate)
        {
            _stopRequested = true;
            current = _current;
        }
        try
        {
            current?.BeginStop(null, null);
        }
        catch (ObjectDisposedException) { }
        catch (InvalidOperationException) { }
    }

    /// <summary>Closes the runspace.</summary>
    public void Dispose() => Runspace.Dispose();

    /// <summary>Renders an error record through Out-Default, to the host's error writer, as pwsh prints it.</summary>
    public void WriteError(ErrorRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        // The note property "writeErrorStream" makes Out-Default format the record with the error view (ConciseView)
        // and write it through WriteErrorLine, as ConsoleHost does for terminating errors.
        var wrapped = new PSObject(record);
        wrapped.Properties.Add(new PSNoteProperty("writeErrorStream", true));
        try
        {
            using var ps = PowerShell.Create(Runspace);
            ps.AddCommand("Out-Default");
            ps.Invoke(new object[] { wrapped });
        }
        catch (Exception e) when (e is RuntimeException or InvalidOperationException)
        {
            Host.UI.WriteErrorLine(record.ToString());
        }
    }

    private void WriteError(Exception exception) =>
        WriteError(exception is IContainsErrorRecord withRecord
            ? withRecord.ErrorRecord
            : new ErrorRecord(exception, "DumpShell.Unhandled", ErrorCategory.NotSpecified, null));

    // Runs a pipeline that ends in Out-Default; returns an exit code to stop with, or null to go on.
    private int? RunRendered(PowerShell ps)
    {
        try
        {
            Execute(ps);
        }
        catch (PipelineStoppedException)
        {
            return ExitStopped;
        }
        catch (Exception e) when (e is RuntimeException or InvalidOperationException)
        {
            WriteError(e);
            return ExitTerminated;
        }
        // A stopped pipeline (Ctrl+C) usually ends without an exception.
        if (ps.InvocationStateInfo.State == PSInvocationState.Stopped || _stopRequested)
            return ExitStopped;
        return Host.ExitCode;
    }

    private Collection<PSObject> Execute(PowerShell ps)
    {
        lock (_gate)
            _current = ps;
        try
        {
            return ps.Invoke();
        }
        finally
        {
            lock (_gate)
                _current = null;
        }
    }

    private static void AddRendered(PowerShell ps, string script)
    {
        // Global scope (not a child scope), so variables and functions persist from statement to statement and call to call.
        ps.AddScript(script, useLocalScope: false);
        ps.Commands.Commands[0].MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
        ps.AddCommand("Out-Default");
    }

    private static ScriptBlockAst ParseOrThrow(string script)
    {
        ScriptBlockAst ast = Parser.ParseInput(script, out _, out ParseError[] errors);
        if (errors.Length > 0)
            throw new ParseException(errors);
        return ast;
    }

    /// <summary>
    /// Splits a script into its top-level statements so each one's output gets its own Out-Default (a table of
    /// threads, then a table of modules, rather than modules squeezed into the threads' shape). Each piece is
    /// padded with blank lines and spaces so error positions still name the script's own line and column.
    /// A script whose meaning would change when split (param/begin/process blocks, #requires, using, trap,
    /// a top-level return/break/continue) runs whole, like pwsh -Command.
    /// </summary>
    internal static IReadOnlyList<string> SplitStatements(string script, ScriptBlockAst ast)
    {
        var statements = ast.EndBlock?.Statements;
        bool whole = statements is null || statements.Count <= 1
            || ast.ParamBlock is not null || ast.BeginBlock is not null || ast.ProcessBlock is not null
            || ast.DynamicParamBlock is not null || ast.CleanBlock is not null
            || ast.ScriptRequirements is not null || ast.UsingStatements.Count > 0
            || ast.EndBlock!.Traps is { Count: > 0 }
            || ast.Find(a => IsTopLevelJump(a, ast), searchNestedScriptBlocks: false) is not null;
        if (whole)
            return [script];

        var pieces = new List<string>(statements!.Count);
        foreach (StatementAst statement in statements)
        {
            IScriptExtent extent = statement.Extent;
            pieces.Add(new string('\n', extent.StartLineNumber - 1) + new string(' ', extent.StartColumnNumber - 1) + extent.Text);
        }
        return pieces;
    }

    // return/break/continue/exit that would leave the whole script, which a split run would turn into "leave this statement".
    private static bool IsTopLevelJump(Ast node, ScriptBlockAst root)
    {
        if (node is ReturnStatementAst)
            return true;
        if (node is BreakStatementAst or ContinueStatementAst)
        {
            for (Ast? parent = node.Parent; parent is not null && parent != root; parent = parent.Parent)
                if (parent is LoopStatementAst or SwitchStatementAst)
                    return false;
            return true;
        }
        return false;
    }

    // pwsh -File's argument rules: "-Name" names a parameter (the binder pairs it with the next argument unless it
    // is a switch), "-Name:" takes the next argument, "-Name:value" carries its value (true/false/$true/$false become
    // booleans), anything else is positional.
    internal static IEnumerable<CommandParameter> BindFileArguments(IReadOnlyList<string> args)
    {
        string? pending = null;
        foreach (string arg in args)
        {
            if (pending is not null)
            {
                yield return new CommandParameter(pending, arg);
                pending = null;
            }
            else if (arg.Length > 1 && arg[0] == '-')
            {
                int colon = arg.IndexOf(':');
                if (colon < 0)
                    yield return new CommandParameter(arg);
                else if (colon == arg.Length - 1)
                    pending = arg.TrimEnd(':');
                else
                    yield return new CommandParameter(arg[..colon], AsBoolIfPossible(arg[(colon + 1)..]));
            }
            else
            {
                yield return new CommandParameter(null, arg);
            }
        }
        if (pending is not null)
            yield return new CommandParameter(pending);
    }

    private static object AsBoolIfPossible(string value) =>
        bool.TryParse(value.StartsWith('$') ? value[1..] : value, out bool b) ? b : value;
}

/// <summary>What <see cref="ModuleSession.Invoke"/> returns.</summary>
/// <param name="Output">The objects written to the output stream.</param>
/// <param name="Errors">The non-terminating error records written.</param>
/// <param name="Warnings">The warning messages written.</param>
public sealed record ScriptResult(IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors, IReadOnlyList<string> Warnings)
{
    /// <summary>True if any error record was written.</summary>
    public bool HadErrors => Errors.Count > 0;

    /// <summary>The output's base objects (unwrapped from PSObject).</summary>
    public IEnumerable<object> BaseObjects => Output.Select(o => o.BaseObject);
}
