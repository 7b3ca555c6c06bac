using System.Management.Automation;
using System.Management.Automation.Host;

namespace DumpShell.Cli;

/// <summary>
/// The raw UI of <see cref="TextHost"/>: a fixed-size virtual buffer that never touches the console.
/// Only the width matters to PowerShell's formatter; the rest returns stable values.
/// </summary>
internal sealed class TextRawUserInterface : PSHostRawUserInterface
{
    private const int Height = 50;
    private readonly TextHost _host;

    public TextRawUserInterface(TextHost host) => _host = host;

    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;

    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;

    public override Size BufferSize
    {
        get => new(_host.Width, Height);
        set => _host.Width = Math.Max(1, value.Width);
    }

    public override Coordinates CursorPosition { get; set; }

    public override int CursorSize { get; set; } = 25;

    public override bool KeyAvailable => false;

    public override Size MaxPhysicalWindowSize => new(_host.Width, Height);

    public override Size MaxWindowSize => new(_host.Width, Height);

    public override Coordinates WindowPosition { get; set; }

    public override Size WindowSize
    {
        get => new(_host.Width, Height);
        set { }
    }

    public override string WindowTitle { get; set; } = "DumpShell";

    public override void FlushInputBuffer() { }

    public override BufferCell[,] GetBufferContents(Rectangle rectangle) =>
        throw new PSNotSupportedException("The DumpShell host has no screen buffer.");

    public override KeyInfo ReadKey(ReadKeyOptions options) =>
        throw new PSInvalidOperationException("The DumpShell host is non-interactive: ReadKey is not available.");

    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }

    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }

    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
}
