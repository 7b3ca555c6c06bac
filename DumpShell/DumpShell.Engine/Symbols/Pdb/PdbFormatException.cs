namespace DumpShell.Symbols.Pdb;

/// <summary>
/// A file that cannot be read as a PDB (MSF 7.00): not an MSF file, a superblock or stream directory that
/// contradicts itself or the file, or a stream whose blocks lie outside the file.
/// </summary>
/// <remarks>
/// <see cref="PdbFile.Open"/> throws it for the parts read up front (superblock, stream directory, PDB info
/// stream, DBI header). Parts read later on demand (module symbols, line tables, publics, frame data) do not
/// throw it out of the lookup methods: the lookup finds nothing there and the reason is added to
/// <see cref="PdbFile.Problems"/>.
/// </remarks>
public sealed class PdbFormatException : Exception
{
    /// <summary>The file, when the PDB was opened from one.</summary>
    public string? Path { get; }

    public PdbFormatException(string message, string? path = null) : base(message) => Path = path;

    public PdbFormatException(string message, Exception inner, string? path = null) : base(message, inner) => Path = path;
}
