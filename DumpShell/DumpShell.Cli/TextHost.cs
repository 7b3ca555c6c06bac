using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Internal;

namespace DumpShell.Cli;

/// <summary>
/// A minimal, non-interactive PowerShell host that writes everything to <see cref="TextWriter"/>s.
/// </summary>
/// <remarks>
/// Deterministic: the buffer width is fixed (<see cref="Width"/>), ANSI escape sequences are stripped
/// from every string written, trailing spaces are trimmed from lines, progress is ignored, and the real console is never touched unless
/// the host was made by <see cref="ForConsole"/>. Prompts and ReadLine throw, like <c>pwsh -NonInteractive</c>.
/// Warning, verbose and debug lines are prefixed as pwsh prints them ("WARNING: ...") and go to
/// <see cref="Error"/> with error lines; everything else goes to <see cref="Output"/>.
/// Not thread-safe beyond what one runspace needs (a runspace writes to its host from one thread at a time).
/// </remarks>
public sealed partial class TextHost : PSHost
{
    /// <summary>The buffer width used when none is given: 120 columns.</summary>
    public const int DefaultWidth = 120;

    private readonly TextHostUserInterface _ui;
    private readonly CultureInfo _culture;
    private readonly CultureInfo _uiCulture;
    private int _width;

    /// <summary>Creates a host writing output, and error/warning/verbose/debug lines, to <paramref name="output"/>
    /// (or error-type lines to <paramref name="error"/> when given).</summary>
    /// <param name="output">Receives rendered output (Out-Default, Write-Host).</param>
    /// <param name="width">RawUI.BufferSize.Width, which sets the width of rendered tables.</param>
    /// <param name="error">Receives error, warning, verbose and debug lines; null means <paramref name="output"/>.</param>
    /// <param name="culture">The host's CurrentCulture and CurrentUICulture; null means the calling thread's.</param>
    public TextHost(TextWriter output, int width = DefaultWidth, TextWriter? error = null, CultureInfo? culture = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        Output = output;
        Error = error ?? output;
        _width = width;
        _culture = culture ?? CultureInfo.CurrentCulture;
        _uiCulture = culture ?? CultureInfo.CurrentUICulture;
        _ui = new TextHostUserInterface(this);
    }

    /// <summary>
    /// A host over <see cref="Console.Out"/> and <see cref="Console.Error"/>, as wide as the console window
    /// when standard output is a terminal, else <see cref="DefaultWidth"/>.
    /// </summary>
    public static TextHost ForConsole()
    {
        int width = DefaultWidth;
        if (!Console.IsOutputRedirected)
        {
            try
            {
                if (Console.WindowWidth > 0)
                    width = Console.WindowWidth;
            }
            catch (IOException) { }
            catch (PlatformNotSupportedException) { }
        }
        return new TextHost(Console.Out, width, Console.Error);
    }

    /// <summary>Where rendered output goes. May be swapped between invocations.</summary>
    public TextWriter Output { get; set; }

    /// <summary>Where error, warning, verbose and debug lines go. May be swapped between invocations.</summary>
    public TextWriter Error { get; set; }

    /// <summary>The buffer (and window) width reported by RawUI; tables are rendered to fit it.</summary>
    public int Width
    {
        get => _width;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _width = value;
        }
    }

    /// <summary>
    /// Whether spaces at the end of each line are dropped (default true). PowerShell pads table rows and header
    /// underlines to the column width; the padding is invisible on a terminal but makes captured text brittle
    /// (editors strip it from snapshot files).
    /// </summary>
    public bool TrimTrailingSpaces { get; set; } = true;

    /// <summary>How many times <c>WriteErrorLine</c> was called (errors rendered by Out-Default arrive there).</summary>
    public int ErrorLineCount { get; internal set; }

    /// <summary>The code given to <see cref="SetShouldExit"/> (by <c>exit N</c> at the top level), or null.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>Removes ANSI escape sequences (VT100 styling, OSC hyperlinks) from <paramref name="text"/>.</summary>
    public static string StripAnsi(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Contains('\x1b'))
            return text ?? string.Empty;
        return new StringDecorated(text).ToString(OutputRendering.PlainText);
    }

    /// <summary>What this host writes for <paramref name="text"/>: ANSI stripped, trailing spaces trimmed before
    /// each line break (and at the end when <paramref name="endsLine"/>) if <see cref="TrimTrailingSpaces"/>.</summary>
    internal string Clean(string? text, bool endsLine)
    {
        string plain = StripAnsi(text);
        if (!TrimTrailingSpaces || plain.Length == 0)
            return plain;
        if (plain.Contains('\n'))
            plain = TrailingSpacesBeforeNewLine().Replace(plain, string.Empty);
        return endsLine ? plain.TrimEnd(' ') : plain;
    }

    [System.Text.RegularExpressions.GeneratedRegex(" +(?=\r?\n)")]
    private static partial System.Text.RegularExpressions.Regex TrailingSpacesBeforeNewLine();

    /// <inheritdoc/>
    public override string Name => "DumpShell";

    /// <inheritdoc/>
    public override Version Version { get; } = typeof(TextHost).Assembly.GetName().Version ?? new Version(1, 0);

    /// <inheritdoc/>
    public override Guid InstanceId { get; } = Guid.NewGuid();

    /// <inheritdoc/>
    public override PSHostUserInterface UI => _ui;

    /// <inheritdoc/>
    public override CultureInfo CurrentCulture => _culture;

    /// <inheritdoc/>
    public override CultureInfo CurrentUICulture => _uiCulture;

    /// <inheritdoc/>
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;

    /// <summary>Clears <see cref="ExitCode"/> and <see cref="ErrorLineCount"/>.</summary>
    public void Reset()
    {
        ExitCode = null;
        ErrorLineCount = 0;
    }

    /// <inheritdoc/>
    public override void EnterNestedPrompt() =>
        throw new PSNotSupportedException("The DumpShell host is non-interactive: nested prompts are not supported.");

    /// <inheritdoc/>
    public override void ExitNestedPrompt() =>
        throw new PSNotSupportedException("The DumpShell host is non-interactive: nested prompts are not supported.");

    /// <inheritdoc/>
    public override void NotifyBeginApplication() { }

    /// <inheritdoc/>
    public override void NotifyEndApplication() { }
}
