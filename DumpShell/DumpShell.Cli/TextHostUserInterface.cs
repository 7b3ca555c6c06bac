using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace DumpShell.Cli;

/// <summary>The UI of <see cref="TextHost"/>: writes text, strips ANSI, refuses to prompt.</summary>
internal sealed class TextHostUserInterface : PSHostUserInterface
{
    private const string NonInteractive =
        "The DumpShell host is non-interactive: Read and Prompt functionality is not available.";

    private readonly TextHost _host;
    private readonly TextRawUserInterface _raw;

    public TextHostUserInterface(TextHost host)
    {
        _host = host;
        _raw = new TextRawUserInterface(host);
    }

    public override PSHostRawUserInterface RawUI => _raw;

    // False: SMA then renders for a plain-text host; what ANSI it still emits is stripped below.
    public override bool SupportsVirtualTerminal => false;

    public override void Write(string value) => _host.Output.Write(_host.Clean(value, endsLine: false));

    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Write(value);

    public override void WriteLine() => _host.Output.WriteLine();

    public override void WriteLine(string value) => _host.Output.WriteLine(_host.Clean(value, endsLine: true));

    public override void WriteLine(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => WriteLine(value);

    public override void WriteErrorLine(string value)
    {
        _host.ErrorLineCount++;
        _host.Error.WriteLine(_host.Clean(value, endsLine: true));
    }

    public override void WriteWarningLine(string message) => _host.Error.WriteLine("WARNING: " + _host.Clean(message, endsLine: true));

    public override void WriteVerboseLine(string message) => _host.Error.WriteLine("VERBOSE: " + _host.Clean(message, endsLine: true));

    public override void WriteDebugLine(string message) => _host.Error.WriteLine("DEBUG: " + _host.Clean(message, endsLine: true));

    // Progress is transient; a text log of it would only be noise (and would make output nondeterministic).
    public override void WriteProgress(long sourceId, ProgressRecord record) { }

    public override string ReadLine() => throw new PSInvalidOperationException(NonInteractive);

    public override SecureString ReadLineAsSecureString() => throw new PSInvalidOperationException(NonInteractive);

    public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
        throw new PSInvalidOperationException(NonInteractive);

    public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) =>
        throw new PSInvalidOperationException(NonInteractive);

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        throw new PSInvalidOperationException(NonInteractive);

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
        PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
        throw new PSInvalidOperationException(NonInteractive);
}
